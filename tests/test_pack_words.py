"""The words of the questionnaire, the CDS Hooks cards, the override notices and the value words of
rationales come from the pack's texts, in the caller's locale; `backrx check` names a missing one."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import base_profile

import backrx
from backrx.cli import main
from backrx.interop.questionnaire import ANSWER_KEY, ITEM_KEY, item_specs, questionnaire
from backrx.interop.questionnaire_response import from_fhir
from backrx.interop.text_keys import missing_keys, used_keys
from backrx.overrides.views import describe, override_status
from backrx.pack.locale import catalog
from backrx.pack.read import bundled_path
from backrx.run.decision import layer_runs, show, value_words

pytest.importorskip("fastapi")
from backrx.interop.cds_hooks import cards


def _texts(rules: backrx.RuleSet, locale: str) -> dict[str, str]:
    """The pack's texts in a locale, read from the files (not through the code under test)."""
    english = yaml.safe_load((bundled_path() / "text.yaml").read_text(encoding="utf-8"))["text"]
    if locale == "en":
        return {k: " ".join(str(v).split()) for k, v in english.items()}
    folder = bundled_path() / "locales"
    local = yaml.safe_load((folder / f"{locale}.yaml").read_text(encoding="utf-8"))["text"]
    return {k: " ".join(str(v).split()) for k, v in {**english, **local}.items()}


def _walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        out.append(item)
        out.extend(_walk(item.get("item", [])))
    return out


def _paths() -> dict[str, str]:
    """linkId -> the item's Profile path (the STarT Back items are linked by LOINC code)."""
    return {link: ".".join(spec.path) for link, spec in item_specs().items()}


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_questionnaire_word_is_the_packs_text(rules: backrx.RuleSet, locale: str) -> None:
    """Each item text, answer display and the title of the questionnaire is the pack's text in the locale."""
    words = _texts(rules, locale)
    form = questionnaire(locale=locale, rules=rules)
    paths = _paths()
    assert form["title"] == words["questionnaire.title"]
    assert form["description"] == words["questionnaire.description"]
    items = _walk(form["item"])
    assert len(items) > 90
    for item in items:
        assert item["text"] == words[ITEM_KEY + paths.get(item["linkId"], item["linkId"])], item["linkId"]
        for option in item.get("answerOption", []):
            coding = option["valueCoding"]
            assert coding["display"] == words[ANSWER_KEY + coding["code"]], coding["code"]


def test_the_spanish_questionnaire_keeps_the_linkids_and_codes(rules: backrx.RuleSet) -> None:
    """Spanish changes the words only: linkIds, types and codes are those of the English form."""

    def skeleton(form: dict[str, Any]) -> list[Any]:
        return [(i["linkId"], i["type"], [o["valueCoding"]["code"] for o in i.get("answerOption", [])])
                for i in _walk(form["item"])]

    english, spanish = questionnaire(rules=rules), questionnaire(locale="es", rules=rules)
    assert skeleton(english) == skeleton(spanish)
    assert spanish["item"][0]["text"] != english["item"][0]["text"]


def test_a_clinic_rewording_reaches_the_questionnaire(pack_copy: Path) -> None:
    """A clinic that rewords an item in its text.yaml sees its own words in the questionnaire."""
    path = pack_copy / "text.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "questionnaire.item.age: \"Age in years\"", "questionnaire.item.age: \"Your age (years)\""),
        encoding="utf-8")
    form = questionnaire(rules=backrx.load_rules(pack_copy))
    assert form["item"][0]["linkId"] == "age" and form["item"][0]["text"] == "Your age (years)"


def test_an_unknown_questionnaire_locale_is_a_rule_error(rules: backrx.RuleSet) -> None:
    """Asking for a questionnaire in a language the pack does not ship raises RuleError unknown-locale."""
    with pytest.raises(backrx.RuleError) as info:
        questionnaire(locale="fr", rules=rules)
    assert info.value.problems[0].code == "unknown-locale"


def test_an_answer_worded_as_the_older_form_is_still_read() -> None:
    """A response that gives an answer's display as the form worded it before (no code) is still read."""
    from backrx.interop.questionnaire_response_out import to_questionnaire_response

    profile = backrx.Profile.model_validate(base_profile(red_flags=["iv_drug_use"]))
    response = to_questionnaire_response(profile)
    (item,) = [i for i in response["item"] if i["linkId"] == "red_flags"]
    assert item["answer"][0]["valueCoding"]["display"] != "Iv drug use"  # the form words it anew
    item["answer"] = [{"valueCoding": {"display": "Iv drug use"}}]
    assert from_fhir(response).red_flags == ["iv_drug_use"]


def _cards(rec: backrx.Recommendation, **kwargs: Any) -> list[dict[str, Any]]:
    return cards(rec, patient_id="p1", hook_instance=uuid.UUID(int=1), user_id="Practitioner/d1", **kwargs)


def test_cds_cards_follow_the_recommendations_locale(rules: backrx.RuleSet) -> None:
    """A Spanish recommendation's program card carries the pack's Spanish labels; English stays English."""
    profile = base_profile()
    for locale in ("en", "es"):
        words = _texts(rules, locale)
        rec = rules.recommend(profile, locale=locale)
        (card,) = [c for c in _cards(rec, rules=rules) if c.get("suggestions")]
        (suggestion,) = card["suggestions"]
        assert suggestion["label"] == words["cds.program.label"]
        phases = rec.program.phases  # type: ignore[union-attr]
        goals = {a["description"] for a in suggestion["actions"] if a["resource"]["resourceType"] == "Goal"}
        expected = words["cds.program.goal"]
        assert goals == {expected.replace("{phase}", p.name) for p in phases}
        assert card["summary"].startswith(words["cds.program.summary"].split("{")[0])


def test_a_referral_card_speaks_the_locale_asked_for(rules: backrx.RuleSet) -> None:
    """An emergency referral card asked for in Spanish has the Spanish summary, headings and label."""
    words = _texts(rules, "es")
    rec = rules.recommend(base_profile(red_flags=["saddle_anaesthesia"]))
    card = _cards(rec, rules=rules, locale="es")[0]
    urgency = words[f"cds.urgency.{rec.referral.urgency}"]  # type: ignore[union-attr]
    assert card["summary"] == words["cds.referral.wait"].replace("{urgency}", urgency)
    assert f"**{words['cds.heading.why']}**" in card["detail"]
    assert card["suggestions"][0]["label"] == words["cds.referral.label"].replace("{urgency}", urgency)


def test_override_words_come_from_the_pack(rules: backrx.RuleSet) -> None:
    """An override's one-line account reads in the pack's words: English by default, Spanish when given."""
    rec = rules.recommend(base_profile(directional_preference="extension"))
    rec = backrx.override(rec, {"add": [{"phase": "calm", "exercise_id": "prone-lying"}]},
                          reason="seen in clinic", by="Dr B", rules=rules)
    (item,) = rec.overrides
    english, spanish = _texts(rules, "en"), _texts(rules, "es")
    line = english["override.describe.line"].replace("{what}", english["override.describe.add"])
    assert describe(item) == (line.replace("{n}", "1").replace("{by}", "Dr B")
                              .replace("{reason}", "seen in clinic")
                              .replace("{exercise}", "prone-lying").replace("{phase}", "calm"))
    said = describe(item, rules.for_locale("es").pack.texts)
    assert said.startswith(spanish["override.describe.line"].split("{")[0])
    assert spanish["override.describe.add"].split("{")[0] in said
    assert override_status(rec, rules.for_locale("es").pack.texts) == [(item, None)]


def test_a_rationale_shows_values_in_the_packs_words(rules: backrx.RuleSet) -> None:
    """The rule runs of a localised pack show yes, no and "not recorded" in its language."""
    spanish = _texts(rules, "es")
    runs = layer_runs(rules.for_locale("es").pack)
    words = runs[0][0].words
    assert words is not None
    assert (show(True, words), show(False, words), show(None, words)) == (
        spanish["value.yes"], spanish["value.no"], spanish["value.not_recorded"])
    assert show(None) == _texts(rules, "en")["value.not_recorded"]
    assert value_words(rules.pack.texts).yes == _texts(rules, "en")["value.yes"]


def test_every_key_the_code_reads_is_in_the_bundled_pack_and_translated(rules: backrx.RuleSet) -> None:
    """The bundled pack has every key the code reads, and Spanish translates each of them."""
    assert not missing_keys(rules.pack, bundled_path())
    spanish = rules.pack.locales["es"]
    keys = {k for k in used_keys() if not k.startswith(("figure.", "label.media"))}
    assert {f"text.{k}" for k in keys if f"text.{k}" in catalog(rules.pack)} <= set(spanish)


def test_check_fails_a_pack_that_lacks_a_key_the_code_reads(pack_copy: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx check` exits 1 on a text.yaml without a key the code reads, naming file, key and code."""
    path = pack_copy / "text.yaml"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if not line.startswith("  cds.program.label:")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = yaml.safe_load((pack_copy / "locales" / "es.yaml").read_text(encoding="utf-8"))
    del doc["text"]["cds.program.label"]  # else it is an extra key of the locale
    (pack_copy / "locales" / "es.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert main(["check", str(pack_copy)]) == 1
    err = capsys.readouterr().err
    assert "text.yaml > cds.program.label" in err and "[code=text-key-missing]" in err


def test_check_codes_a_missing_translation(pack_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx check` exits 1 on a locale without a questionnaire text, with code translation-missing."""
    path = pack_copy / "locales" / "es.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    del doc["text"]["questionnaire.answer.agree"]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert main(["check", str(pack_copy)]) == 1
    assert "missing  text.questionnaire.answer.agree  [code=translation-missing]" in capsys.readouterr().err
    (problem,) = missing_keys(backrx.load_rules(pack_copy).pack, pack_copy)
    assert (problem.file, problem.code, problem.location) == (
        "locales/es.yaml", "translation-missing", "text.questionnaire.answer.agree")
