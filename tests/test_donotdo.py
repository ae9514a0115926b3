"""The do-not-do list: sourced in the pack, stated to the person in plain words, and an override
that adds one of its interventions refused unless acknowledged with a reason, then recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import base_profile

import backrx
from backrx.pack.read import bundled_path
from backrx.render.donotdo import donotdo_for

WHO = {"reason": "Plan agreed with the spinal team", "by": "Dr A. Clinician"}
#: What the issue asks the list to hold, by the words a reader would look for in each item's name.
ASKED = ("traction", "ultrasound", "tens", "brace", "bed rest", "imaging")


@pytest.fixture(scope="module")
def rec(rules: backrx.RuleSet) -> backrx.Recommendation:
    """A plain program: chronic low back pain, no flags."""
    return rules.recommend(backrx.Profile.model_validate(base_profile()))


def test_the_pack_lists_each_intervention_the_guidance_advises_against(rules: backrx.RuleSet) -> None:
    """traction, ultrasound, TENS, braces, bed rest and routine imaging are each on the list, and
    every item cites sources that are in the pack's bibliography."""
    book = rules.pack.donotdo
    names = " ".join(f"{i.id} {i.name}".lower() for i in book.items)
    for word in ASKED:
        assert word in names, word
    for item in book.items:
        assert item.sources and all(s in rules.pack.sources for s in item.sources), item.id
        assert item.patient.startswith("You do not need"), item.id


def test_each_plain_sentence_is_translated_to_spanish(rules: backrx.RuleSet,
                                                      rec: backrx.Recommendation) -> None:
    """The Spanish handout states every item in Spanish, not in the English of the pack."""
    english = {i["id"]: i["text"] for i in donotdo_for(rules.pack, rec, "en")["items"]}
    spanish = donotdo_for(rules.pack, rec, "es")
    assert spanish["heading"] != rules.pack.donotdo.heading
    assert {i["id"] for i in spanish["items"]} == set(english)
    for item in spanish["items"]:
        assert item["text"] != english[item["id"]] and item["text"].startswith("No necesita"), item["id"]


def test_the_handout_and_the_explanation_state_the_items(rules: backrx.RuleSet,
                                                         rec: backrx.Recommendation) -> None:
    """The Markdown handout says "you do not need a scan" in the pack's words, and the clinician's
    explanation adds each item's guidance line and sources."""
    from backrx.render import explain, handout

    scan = rules.pack.texts["donotdo.routine-imaging.patient"]
    assert "You do not need a scan" in scan
    assert scan.split(".")[0] in handout(rec, rules=rules)
    text = explain(rec, rules=rules)
    for item in rules.pack.donotdo.items:
        assert item.advice in text


def test_a_referral_keeps_imaging_off_the_list(rules: backrx.RuleSet) -> None:
    """When the plan carries a referral, the person is not told they do not need a scan; when a
    referral replaces the program, no item is stated at all."""
    inflammatory = base_profile(age=28, red_flags=["inflammatory_back_pain"])
    rec = rules.recommend(backrx.Profile.model_validate(inflammatory))
    assert rec.referral is not None and rec.program is not None
    found = {i["id"] for i in donotdo_for(rules.pack, rec, "en")["items"]}
    assert "routine-imaging" not in found and "traction" in found
    urgent = rules.recommend(backrx.Profile.model_validate(base_profile(red_flags=["saddle_anaesthesia"])))
    assert urgent.program is None
    assert donotdo_for(rules.pack, urgent, "en")["items"] == []


@pytest.mark.parametrize("item", ["traction", "therapeutic-ultrasound", "tens", "lumbar-support",
                                  "bed-rest", "routine-imaging"])
def test_adding_an_intervention_without_acknowledgement_is_refused(rules: backrx.RuleSet,
                                                                   rec: backrx.Recommendation,
                                                                   item: str) -> None:
    """Each listed intervention, added without a reason of its own, is refused at its acknowledge."""
    for changes in ({"interventions": [{"id": item}]},
                    {"interventions": [{"id": item, "acknowledge": "  "}]}):
        with pytest.raises(backrx.OverrideError) as info:
            backrx.override(rec, changes, **WHO, rules=rules)
        assert info.value.code == "donotdo-unacknowledged"
        assert info.value.loc == ("interventions", 0, "acknowledge")


def test_an_acknowledged_intervention_is_recorded_and_changes_no_exercise(
        rules: backrx.RuleSet, rec: backrx.Recommendation) -> None:
    """Acknowledged, the intervention is one override on the record (who, why, the acknowledgement),
    the program is unchanged, the handout no longer contradicts it, and replay keeps it."""
    why = "Brace fitted by the spinal team after a fracture"
    after = backrx.override(rec, {"interventions": [{"id": "lumbar-support", "acknowledge": why}]},
                            **WHO, rules=rules)
    made = after.overrides[-1]
    assert (made.kind, made.intervention, made.acknowledgement, made.by) == (
        "intervention", "lumbar-support", why, WHO["by"])
    assert after.program == rec.program
    assert "lumbar-support" not in {i["id"] for i in donotdo_for(rules.pack, after, "en")["items"]}
    assert why in after.explain()
    assert rec.program is not None
    assert backrx.replay(rec.program, [], after.overrides) == after.program
    again = backrx.Recommendation.model_validate_json(after.model_dump_json())
    assert again.overrides[-1].acknowledgement == why
    with pytest.raises(backrx.OverrideError) as info:
        backrx.override(after, {"interventions": [{"id": "lumbar-support", "acknowledge": why}]},
                        **WHO, rules=rules)
    assert info.value.code == "already-recorded"


def test_an_intervention_off_the_list_is_refused_naming_the_field(rules: backrx.RuleSet,
                                                                  rec: backrx.Recommendation) -> None:
    """An id the pack does not list is refused; the message lists the known ids and never the input."""
    with pytest.raises(backrx.OverrideError) as info:
        backrx.override(rec, {"interventions": [{"id": "zz-unknown", "acknowledge": "x"}]}, **WHO,
                        rules=rules)
    assert info.value.code == "unknown-intervention" and info.value.loc == ("interventions", 0, "id")
    assert "traction" in info.value.message


def test_an_imported_record_without_its_acknowledgement_is_refused(rules: backrx.RuleSet,
                                                                   rec: backrx.Recommendation) -> None:
    """A plan read from JSON whose intervention record lost its acknowledgement does not validate."""
    after = backrx.override(rec, {"interventions": [{"id": "tens", "acknowledge": "Tried in clinic"}]},
                            **WHO, rules=rules)
    data = json.loads(after.model_dump_json())
    del data["overrides"][-1]["acknowledgement"]
    with pytest.raises(ValidationError) as info:
        backrx.Recommendation.model_validate(data)
    assert info.value.errors()[0]["type"] == "donotdo-unacknowledged"


@settings(max_examples=20, deadline=None)
@given(index=st.integers(0, 5), reason=st.text(min_size=1, max_size=40).filter(lambda s: bool(s.split())
                                                                                and s.isprintable()))
def test_any_acknowledged_item_is_on_the_record_with_its_reason(rules: backrx.RuleSet, index: int,
                                                                reason: str) -> None:
    """Whatever item and whatever reason, an acknowledged intervention is recorded with that reason
    (whitespace tidied), so an auditor can always see why the advice was set aside."""
    rec = rules.recommend(backrx.Profile.model_validate(base_profile()))
    item = rules.pack.donotdo.items[index].id
    after = backrx.override(rec, {"interventions": [{"id": item, "acknowledge": reason}]}, **WHO, rules=rules)
    assert after.overrides[-1].acknowledgement == " ".join(reason.split())


def test_a_broken_list_names_the_file_and_the_field(tmp_path: Path) -> None:
    """An item without sources or with a bad id is refused by the loader, naming donotdo.yaml."""
    pack = tmp_path / "pack"
    shutil.copytree(bundled_path(), pack)
    text = (pack / "donotdo.yaml").read_text(encoding="utf-8")
    (pack / "donotdo.yaml").write_text(text.replace("id: tens", "id: TENS!").replace(
        "    sources: [dahm-2010, nice-ng59-2016]\n", ""), encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(pack)
    found = {(p.file, p.code) for p in info.value.problems}
    assert ("donotdo.yaml", "bad-id") in found
    assert ("donotdo.yaml", "missing-key") in found
