"""One wording per urgency tier (urgency.yaml), unsure red flags in the loader, and the new profile fields."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import yaml
from tests.conftest import base_profile, dated

import backrx


def _edit_rule(pack: Path, file: str, rule_id: str, **refer: str) -> None:
    path = pack / file
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    rule = next(r for r in doc["rules"] if r["id"] == rule_id)
    rule["then"]["refer"].update(refer)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _problems(pack: Path) -> list[backrx.Problem]:
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(pack, engine="reference")
    return info.value.problems


def test_an_urgent_reason_worded_for_another_tier_is_refused(pack_copy: Path) -> None:
    """An urgent reason that says "within a day or two" is refused with file, rule id and code."""
    _edit_rule(pack_copy, "triage.yaml", "triage.infection.fever",
               reason="Fever with back pain: see a doctor within a day or two.")
    found = [p for p in _problems(pack_copy) if p.code == "urgency-wording"]
    assert {p.rule_id for p in found} == {"triage.infection.fever"}
    assert all(p.file == "triage.yaml" and p.line for p in found)
    assert any("doctor today" in p.message for p in found)
    assert any("within a day or two" in p.message for p in found)


def test_an_emergency_reason_without_now_is_refused(pack_copy: Path) -> None:
    """An emergency reason that does not say "emergency department now" is refused."""
    _edit_rule(pack_copy, "adjust.yaml", "adjust.red-flag.emergency", reason="Stop and get checked soon.")
    found = [p for p in _problems(pack_copy) if p.code == "urgency-wording"]
    assert [p.rule_id for p in found] == ["adjust.red-flag.emergency"]


def test_a_tier_header_must_say_its_phrase(pack_copy: Path) -> None:
    """A header that does not say its tier's phrase is an urgency-wording problem in urgency.yaml."""
    path = pack_copy / "urgency.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["tiers"]["urgent"]["header"] = "URGENT: see a doctor within a day or two"
    doc["tiers"]["sometime"] = {"phrase": "x", "header": "x"}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    codes = {(p.file, p.code) for p in _problems(pack_copy)}
    assert ("urgency.yaml", "urgency-wording") in codes and ("urgency.yaml", "unknown-value") in codes


def test_a_pack_whose_unsure_flag_cannot_refer_is_refused(pack_copy: Path) -> None:
    """Removing the rule for an unsure flag makes the loader refuse the pack, naming the flag."""
    path = pack_copy / "triage.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["rules"] = [r for r in doc["rules"] if r["id"] != "triage.unsure.iv-drug-use"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    found = [p for p in _problems(pack_copy) if p.code == "unsure-red-flag-without-referral"]
    assert len(found) == 1 and "iv_drug_use" in found[0].message


def test_a_pack_without_urgency_yaml_still_loads_with_plain_headers(pack_copy: Path) -> None:
    """urgency.yaml is optional: without it a referral has no header and the text names the tier."""
    (pack_copy / "urgency.yaml").unlink()
    rec = backrx.load_rules(pack_copy, engine="reference").recommend(base_profile(red_flags=["iv_drug_use"]))
    assert rec.referral is not None and rec.referral.header is None
    assert "URGENT referral" in rec.explain()


def test_the_referral_carries_the_tier_wording_through_adjust(rules: backrx.RuleSet) -> None:
    """A referral made by adjust carries the same header as one made by recommend."""
    rec = rules.recommend(base_profile())
    after = backrx.adjust(rec, dated({"responses": [], "new_red_flags": ["saddle_anaesthesia"]}, rec),
                          rules=rules)
    direct = rules.recommend(base_profile(red_flags=["saddle_anaesthesia"]))
    assert after.referral is not None and direct.referral is not None
    assert after.referral.header == direct.referral.header
    assert after.referral.header and "now" in after.referral.header


def test_a_referral_handout_is_not_headed_as_an_exercise_plan(rules: backrx.RuleSet) -> None:
    """The handout of an urgent referral opens with the tier's title, not "Your back exercise plan"."""
    rec = rules.recommend(base_profile(red_flags=["fever_or_infection"]))
    md = rec.to_markdown()
    assert rec.referral is not None and rec.referral.title
    assert md.splitlines()[0] == f"# {rec.referral.title}"
    assert "exercise plan" not in md.splitlines()[0]


def test_new_profile_fields_default_to_unanswered() -> None:
    """The new fields are optional: onset and trend unanswered, no unsure flags, independent mobility."""
    profile = backrx.Profile.model_validate(base_profile())
    assert profile.onset is None and profile.symptom_trend is None
    assert profile.red_flags_unsure == [] and profile.mobility == "independent"


def test_pregnancy_weeks_with_pregnant_false_is_refused() -> None:
    """history.pregnancy_weeks with pregnant: false is a validation error naming the history."""
    with pytest.raises(pydantic.ValidationError) as info:
        backrx.Profile.model_validate(base_profile(history={"pregnant": False, "pregnancy_weeks": 22}))
    assert info.value.errors()[0]["type"] == "pregnancy-mismatch"
    assert info.value.errors()[0]["loc"][0] == "history"


def test_an_unknown_unsure_flag_is_refused() -> None:
    """red_flags_unsure takes only red-flag codes."""
    with pytest.raises(pydantic.ValidationError) as info:
        backrx.Profile.model_validate(base_profile(red_flags_unsure=["maybe_cancer"]))
    assert info.value.errors()[0]["loc"][0] == "red_flags_unsure"


def test_explain_shows_the_clinician_warnings(rules: backrx.RuleSet) -> None:
    """explain() (the clinician view) lists each warning with its code and rules; the handout does not."""
    rec = rules.recommend(base_profile(red_flags_unsure=["iv_drug_use"]))
    text = rec.explain()
    assert "unsure-red-flag" in text and "triage.unsure.iv-drug-use" in text
    assert "unsure-red-flag" not in rec.to_markdown()
