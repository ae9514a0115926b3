"""The words backrx writes into a FHIR Bundle are the pack's ``fhir.*`` texts, in the Bundle's locale;
a clinic's rewording reaches the Bundle, and `backrx check` names a missing one."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import base_profile

import backrx
from backrx.cli import main
from backrx.interop.fhir import to_fhir
from backrx.interop.fhir_outcomes import MEASURES, OUTCOME_SYSTEM
from backrx.interop.text_keys import missing_keys, used_keys
from backrx.pack.read import bundled_path

pytest.importorskip("fhir.resources")
from tests.test_fhir import _assert_valid

ROOT = Path(__file__).resolve().parents[1]
POOL = ROOT / "examples" / "severe-acute-pool.yaml"  # a routine referral beside a program, high risk
OUTCOMES = {"odi": 32, "rmdq": 9, "nprs": 6, "walk_minutes": 15, "mskhq": 40,
            "psfs": [{"activity": "gardening", "score": 4}]}


def _texts(locale: str, root: Path | None = None) -> dict[str, str]:
    """The pack's texts in a locale, read from the files (not through the code under test)."""
    folder = root or bundled_path()
    english = yaml.safe_load((folder / "text.yaml").read_text(encoding="utf-8"))["text"]
    local = {} if locale == "en" else yaml.safe_load(
        (folder / "locales" / f"{locale}.yaml").read_text(encoding="utf-8"))["text"]
    return {k: " ".join(str(v).split()) for k, v in {**english, **local}.items()}


def _fill(text: str, **values: object) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _program(bundle: dict[str, Any]) -> dict[str, Any]:
    (top,) = [c for c in _of(bundle, "CarePlan") if "partOf" not in c]
    return top


def _skeleton(node: Any) -> Any:
    """The Bundle without its words: every key, id, reference and code, no free text."""
    if isinstance(node, dict):
        return {k: _skeleton(v) for k, v in node.items()
                if k not in ("text", "description", "title", "display", "div", "detail")}
    if isinstance(node, list):
        return [_skeleton(v) for v in node]
    return node


@pytest.mark.parametrize("locale", ["en", "es"])
def test_the_bundles_labels_are_the_packs_texts_in_the_locale(rules: backrx.RuleSet, locale: str) -> None:
    """Program title, category, phase and goal wording, referral code text and the STarT Back risk
    words of a Bundle are the pack's texts in the recommendation's language."""
    words = _texts(locale)
    rec = rules.recommend(backrx.load_profile(POOL), locale=locale)
    bundle = to_fhir(rec)
    _assert_valid(bundle)
    top = _program(bundle)
    assert top["title"] == words["fhir.program.title"]
    assert top["category"][0]["text"] == words["fhir.category"]
    assert rec.program is not None and rec.referral is not None
    phases = {c["title"]: c for c in _of(bundle, "CarePlan") if "partOf" in c}
    for phase in rec.program.phases:
        assert phases[phase.name]["description"] == _fill(
            words["fhir.phase.description"], goal=phase.goal, start=phase.start_week, end=phase.end_week)
    goals = [g["description"]["text"] for g in _of(bundle, "Goal")]
    assert goals == [_fill(words["fhir.goal"], phase=p.name, criteria=" ".join(p.progress_when))
                     for p in rec.program.phases]
    (request,) = _of(bundle, "ServiceRequest")
    assert request["code"]["text"] == _fill(words["fhir.referral"],
                                            urgency=words[f"fhir.urgency.{rec.referral.urgency}"])
    risk = _fill(words["fhir.startback.risk"], risk=words["report.risk.high"])
    assert {i["text"] for o in _of(bundle, "Observation") for i in o.get("interpretation", [])} == {risk}
    assert _of(bundle, "Library")[0]["type"]["text"] == words["fhir.library.type"]
    assert _of(bundle, "Provenance")[0]["agent"][0]["type"]["text"] == words["fhir.author"]


def test_a_spanish_bundle_carries_spanish_doses_and_provenance(rules: backrx.RuleSet) -> None:
    """Each activity's dose and the Provenance narrative of a Spanish Bundle are in Spanish words."""
    spanish = _texts("es")
    rec = rules.recommend(backrx.load_profile(POOL), locale="es")
    bundle = to_fhir(rec)
    assert rec.program is not None
    details = [a["detail"] for c in _of(bundle, "CarePlan") for a in c.get("activity", []) if "detail" in a]
    prescriptions = [p for phase in rec.program.phases for p in phase.prescriptions]
    assert len(details) == len(prescriptions) > 0
    counted = 0
    for prescription, detail in zip(prescriptions, details, strict=True):
        dose = prescription.dose
        if dose.sets and dose.reps and dose.sets > 1:
            said = _fill(spanish["report.dose.sets_reps"], sets=dose.sets, reps=dose.reps)
            assert said in detail["description"]
            counted += 1
    assert counted > 0
    div = _of(bundle, "Provenance")[0]["text"]["div"]
    assert spanish["fhir.provenance.made_by"].split("{")[0] in div
    assert spanish["fhir.provenance.rules"].split("{")[0] in div
    assert "Made by backrx" not in div


def test_locale_changes_the_words_only(rules: backrx.RuleSet) -> None:
    """An English recommendation exported with locale="es" keeps every id, reference and code; only
    backrx's labels change language (the recommendation's own texts stay as they were made)."""
    rec = rules.recommend(backrx.load_profile(POOL))
    when = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    english, spanish = to_fhir(rec, recorded=when), to_fhir(rec, recorded=when, locale="es")
    _assert_valid(spanish)
    assert _skeleton(english) == _skeleton(spanish)
    assert _program(spanish)["title"] == _texts("es")["fhir.program.title"] != _program(english)["title"]
    assert _program(spanish)["description"] == _program(english)["description"]  # the record's words


def test_outcome_titles_follow_the_locale_and_codes_keep_their_displays(rules: backrx.RuleSet) -> None:
    """A Spanish Bundle titles each outcome Observation in the pack's Spanish; the codings' displays
    (backrx's outcome codes, LOINC) are the same as in English."""
    profile = base_profile(outcomes=OUTCOMES)
    english = to_fhir(rules.recommend(profile))
    spanish = to_fhir(rules.recommend(profile, locale="es"))
    words = _texts("es")

    def outcomes(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {c["code"]: o for o in _of(bundle, "Observation") for c in o["code"]["coding"]
                if c["system"] == OUTCOME_SYSTEM}

    found = outcomes(spanish)
    assert set(found) == set(OUTCOMES) and set(found) <= set(MEASURES)
    for measure, observation in found.items():
        assert observation["code"]["text"] == words[f"fhir.outcome.{measure}"]
        assert observation["category"][0]["text"] == words["fhir.category.survey"]
        assert observation["code"]["coding"] == outcomes(english)[measure]["code"]["coding"]


def test_a_spanish_override_provenance_reads_in_spanish(rules: backrx.RuleSet) -> None:
    """An override's Provenance in a Spanish Bundle says what was done, the rule and the missing time
    in the pack's Spanish."""
    words = _texts("es")
    rec = rules.recommend(backrx.load_profile(ROOT / "examples" / "chronic-extension.yaml"), locale="es")
    rec = backrx.override(rec, {"accept": [{"phase": "calm", "exercise_id": "double-knee-to-chest",
                                            "acknowledge": ["direction"]}]},
                          reason="tolera la flexión", by="Dra. D", rules=rules)
    bundle = to_fhir(rec)
    (prov,) = [p for p in _of(bundle, "Provenance") if "activity" in p]
    assert prov["activity"]["text"] == _fill(words["fhir.override.activity"], kind="accept")
    assert [r["text"] for r in prov["reason"]] == [
        "tolera la flexión", _fill(words["fhir.override.acknowledged"], codes="direction"),
        words["fhir.override.time_unknown"]]
    assert prov["entity"][0]["what"]["display"] == _fill(
        words["fhir.rule"], rule="exclude.direction.against-extension-preference")
    assert words["override.describe.accept"].split("{")[0].strip() in prov["text"]["div"]


def test_a_clinic_rewording_reaches_the_bundle(pack_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clinic that rewords the program title and the referral wording in its text.yaml sees its own
    words in the Bundle, from Python and from `backrx recommend --format fhir`."""
    path = pack_copy / "text.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in (("fhir.program.title: backrx exercise program", "fhir.program.title: Back class plan"),
                     ('fhir.referral: "Referral for medical assessment ({urgency})"',
                      'fhir.referral: "Please see this person ({urgency})"')):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    clinic = backrx.load_rules(pack_copy)
    bundle = to_fhir(clinic.recommend(backrx.load_profile(POOL)), rules=clinic)
    assert _program(bundle)["title"] == "Back class plan"
    assert _of(bundle, "ServiceRequest")[0]["code"]["text"] == "Please see this person (routine)"
    assert main(["recommend", str(POOL), "--rules", str(pack_copy), "--format", "fhir"]) == 0
    assert _program(json.loads(capsys.readouterr().out))["title"] == "Back class plan"


def test_cds_cards_carry_the_bundle_and_doses_in_their_locale(rules: backrx.RuleSet) -> None:
    """A program card asked for in Spanish suggests a CarePlan titled in the pack's Spanish and gives
    each exercise's dose in the pack's Spanish dose words."""
    pytest.importorskip("fastapi")
    import uuid

    from backrx.interop.cds_hooks import cards

    spanish = _texts("es")
    rec = rules.recommend(base_profile())
    found = cards(rec, patient_id="p1", hook_instance=uuid.UUID(int=1), locale="es", rules=rules)
    titles = {a["resource"].get("title") for c in found for s in c.get("suggestions", [])
              for a in s["actions"] if a["resource"]["resourceType"] == "CarePlan"}
    assert spanish["fhir.program.title"] in titles
    (card,) = [c for c in found if c.get("suggestions")]
    assert rec.program is not None
    doses = [p.dose for phase in rec.program.phases for p in phase.prescriptions
             if p.dose.sets and p.dose.reps and p.dose.sets > 1]
    assert doses
    for dose in doses:
        assert _fill(spanish["report.dose.sets_reps"], sets=dose.sets, reps=dose.reps) in card["detail"]


def test_an_unknown_bundle_locale_is_a_rule_error(rules: backrx.RuleSet) -> None:
    """Asking for a Bundle in a language the pack does not ship raises RuleError unknown-locale."""
    rec = rules.recommend(base_profile())
    for pack in (None, rules):
        with pytest.raises(backrx.RuleError) as info:
            to_fhir(rec, locale="fr", rules=pack)
        assert info.value.problems[0].code == "unknown-locale"


def test_every_fhir_text_is_one_the_code_reads() -> None:
    """The fhir.* keys of the bundled text.yaml are exactly the fhir.* keys backrx's code reads."""
    pack = {k for k in _texts("en") if k.startswith("fhir.")}
    assert len(pack) > 20
    assert pack == {k for k in used_keys() if k.startswith("fhir.")}


def test_check_fails_a_pack_without_a_fhir_text(pack_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx check` exits 1 on a text.yaml without fhir.referral (text-key-missing) and on a locale
    without the Spanish fhir.goal (translation-missing)."""
    path = pack_copy / "text.yaml"
    path.write_text("\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                              if not line.startswith("  fhir.referral:")) + "\n", encoding="utf-8")
    es = pack_copy / "locales" / "es.yaml"
    doc = yaml.safe_load(es.read_text(encoding="utf-8"))
    del doc["text"]["fhir.referral"]  # else it is an extra key of the locale
    del doc["text"]["fhir.goal"]
    es.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert main(["check", str(pack_copy)]) == 1
    err = capsys.readouterr().err
    assert "text.yaml > fhir.referral" in err and "[code=text-key-missing]" in err
    assert "text.fhir.goal  [code=translation-missing]" in err
    found = {(p.file, p.code, p.location) for p in missing_keys(backrx.load_rules(pack_copy).pack, pack_copy)}
    assert found == {("text.yaml", "text-key-missing", "fhir.referral"),
                     ("locales/es.yaml", "translation-missing", "text.fhir.goal")}
