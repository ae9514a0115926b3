"""A second language: recommend(..., locale="es") speaks Spanish to the patient, and only that."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from tests.conftest import base_profile
from tests.test_doors_output import _refused, _set

import backrx
from backrx.cli import main
from backrx.model.recommendation import DISCLAIMER
from backrx.pack.examples import example_names, example_text
from backrx.pack.locale import catalog, report, warn_keys
from backrx.pack.read import bundled_path
from backrx.render import render, view_formats
from backrx.testing import profiles
from conftest import whole_word_hits

_PLACEHOLDER = re.compile(r"\{[a-z_.]+\}")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _visible(out: str, fmt: str) -> str:
    if fmt != "html":
        return out
    parser = _Text()
    parser.feed(out)
    return " ".join(" ".join(parser.parts).split())


def english_fragments(rules: backrx.RuleSet, lang: str, only: tuple[str, ...] = ()) -> list[str]:
    """The English texts whose translation differs, cut at placeholders (pieces of 12+
    characters), so that none of them may appear in the translated output (``only``: the keys
    ending so, such as ``(".rationale", ".title")``)."""
    english = catalog(rules.pack)
    translated = rules.pack.locales[lang]
    out: list[str] = []
    for key, text in english.items():
        if key == "text.meta.lang" or translated.get(key, text) == text or (only and not key.endswith(only)):
            continue
        out += [piece.strip() for piece in _PLACEHOLDER.split(text) if len(piece.strip()) >= 12]
        if not _PLACEHOLDER.search(text) and len(text) < 12 and " " not in text and len(text) >= 4:
            out.append(text)  # a one-word name such as "Bridge"
    return out


@pytest.fixture(scope="module")
def spanish(rules: backrx.RuleSet) -> dict[str, backrx.Recommendation]:
    """Every bundled example, recommended in Spanish."""
    return {n: rules.recommend(yaml.safe_load(example_text(n)), locale="es") for n in example_names()}


def test_the_bundled_spanish_locale_is_complete(rules: backrx.RuleSet) -> None:
    """es.yaml gives every patient-facing text of the bundled pack, and nothing else."""
    assert rules.locales == ("en", "es")
    assert report(rules.pack) == {"es": ([], [])}


def test_the_english_check_finds_english(rules: backrx.RuleSet) -> None:
    """The leak check is real: the English handout of the same example is full of the fragments."""
    fragments = english_fragments(rules, "es")
    shown = render(rules.recommend(yaml.safe_load(example_text("stenosis"))), "text", view="patient")
    assert sum(1 for f in fragments if f in shown) > 50


@pytest.mark.parametrize("fmt", view_formats())
def test_spanish_patient_output_holds_no_english_patient_string(
    spanish: dict[str, backrx.Recommendation], rules: backrx.RuleSet, fmt: str
) -> None:
    """For every example, the Spanish patient view contains none of the English catalog's texts."""
    fragments = english_fragments(rules, "es")
    assert len(fragments) > 400
    for name, rec in spanish.items():
        shown = _visible(render(rec, fmt, view="patient", rules=rules), fmt)
        leaked = whole_word_hits(fragments, shown)
        assert leaked == [], (name, fmt, leaked[:5])


def test_spanish_recommendation_carries_the_spanish_texts(
    spanish: dict[str, backrx.Recommendation], rules: backrx.RuleSet
) -> None:
    """The Recommendation itself holds the Spanish names, steps, phases, referral and safety net."""
    es = rules.pack.locales["es"]
    for rec in spanish.values():
        assert rec.locale == "es"
        assert rec.disclaimer == es["text.disclaimer"]
        for item in rec.safety_net:
            assert item in es.values()
        if rec.referral is not None:
            assert all(reason in es.values() for reason in rec.referral.reasons)
        for phase in rec.program.phases if rec.program else []:
            assert phase.name == es[f"phases.{phase.id}.name"]
            for p in phase.prescriptions:
                assert p.exercise.name == es[f"exercises.{p.exercise.id}.name"]
                assert p.exercise.instructions == es[f"exercises.{p.exercise.id}.instructions"]


def _decision(rec: backrx.Recommendation) -> Any:
    program = rec.program
    return (rec.outcome, rec.referral.urgency if rec.referral else None, rec.classification,
            [f.rule_id for f in rec.trace],
            [[(p.exercise.id, p.dose, p.rule_ids) for p in ph.prescriptions] for ph in program.phases]
            if program else None,
            [(e.exercise_id, e.rule_ids) for e in program.excluded] if program else None)


@settings(max_examples=60)
@given(profile=profiles())
def test_a_translation_never_changes_a_clinical_decision(reference_rules: backrx.RuleSet,
                                                        profile: dict[str, Any]) -> None:
    """For any profile, the Spanish recommendation has the same referral, exercises, doses,
    exclusions and trace as the English one; only the words differ."""
    assert _decision(reference_rules.recommend(profile, locale="es")) == \
        _decision(reference_rules.recommend(profile))


def test_english_stays_the_default(rules: backrx.RuleSet) -> None:
    """Without a locale, the result is English, with the same disclaimer as before."""
    rec = backrx.recommend(base_profile())
    assert rec.locale == "en" and rec.disclaimer == DISCLAIMER
    assert rules.recommend(base_profile(), locale="en") == rec


def test_a_spanish_recommendation_round_trips_and_adjusts_in_spanish(rules: backrx.RuleSet) -> None:
    """A Spanish recommendation survives JSON, and adjust() answers it in Spanish."""
    rec = rules.recommend(base_profile(), locale="es")
    again = backrx.Recommendation.model_validate_json(rec.model_dump_json())
    assert again == rec
    exercise = rec.program.phases[0].prescriptions[3].exercise.id  # type: ignore[union-attr]
    after = backrx.adjust(again, {"date": "2026-01-05", "responses": [
        {"exercise_id": exercise, "pain_during": 2, "next_day": "worse", "peripheralized": False}]})
    assert after.locale == "es"
    out = render(after, "text", view="patient", rules=rules)
    assert "Cambios según cómo le ha ido" in out
    patient = [f.patient for f in after.adjustments[0].trace if f.patient]
    assert patient and all(p in rules.pack.locales["es"].values() for p in patient)


def test_an_unknown_locale_is_a_rule_error(rules: backrx.RuleSet) -> None:
    """Asking for a language the pack does not ship raises RuleError naming the ones it has."""
    with pytest.raises(backrx.RuleError, match="es") as info:
        rules.recommend(base_profile(), locale="fr")
    assert info.value.problems[0].code == "unknown-locale"


def _pack_with_spanish(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(bundled_path(), target, ignore=shutil.ignore_patterns("cases"))
    return target


def test_check_fails_a_locale_that_misses_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx check` exits 1 and names each key a locale misses, and each key it has in excess."""
    pack = _pack_with_spanish(tmp_path)
    path = pack / "locales" / "es.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    del doc["exercises"]["cat-camel"]["instructions"]
    doc["exercises"]["no-such-exercise"] = {"name": "Nada"}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert main(["check", str(pack)]) == 1
    err = capsys.readouterr().err
    assert "locale es: 1 missing, 1 extra" in err
    assert "missing  exercises.cat-camel.instructions" in err
    assert "extra    exercises.no-such-exercise.name" in err
    # The pack still loads: a missing text falls back to English rather than breaking a plan.
    rec = backrx.load_rules(pack).recommend(base_profile(), locale="es")
    english = backrx.load_rules().pack.exercises["cat-camel"].instructions
    assert any(p.exercise.instructions == english for ph in rec.program.phases  # type: ignore[union-attr]
               for p in ph.prescriptions if p.exercise.id == "cat-camel")


def test_check_reports_a_complete_locale(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx check` on the bundled pack says the Spanish locale is complete and exits 0."""
    assert main(["check"]) == 0
    assert "locale es: complete" in capsys.readouterr().out


def test_a_malformed_locale_file_names_file_line_and_key(tmp_path: Path) -> None:
    """A locale text that is not text fails the load with locales/es.yaml, the line and the key."""
    pack = _pack_with_spanish(tmp_path)
    path = pack / "locales" / "es.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  title.program: Su plan de ejercicios para la espalda", "  title.program: [1, 2]"),
        encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(pack)
    problem = info.value.problems[0]
    assert (problem.file, problem.code) == ("locales/es.yaml", "wrong-type") and problem.line
    assert "title.program" in problem.message


def test_cli_recommend_takes_a_locale(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`backrx recommend PROFILE --locale es --format html` writes a Spanish page (lang="es")."""
    profile = tmp_path / "p.yaml"
    profile.write_text(example_text("stenosis"), encoding="utf-8")
    assert main(["recommend", str(profile), "--locale", "es", "--format", "html"]) == 0
    html = capsys.readouterr().out
    assert '<html lang="es">' in html and "Su plan de ejercicios para la espalda" in html


def test_a_spanish_referral_carries_its_tier_wording_in_spanish(
        spanish: dict[str, backrx.Recommendation], rules: backrx.RuleSet) -> None:
    """A Spanish emergency referral's header and title (urgency.yaml) come from the locale, in the
    Recommendation and in explain() and to_markdown(); the English tier wording does not appear."""
    rec = spanish["red-flag-emergency"]
    assert rec.referral is not None and rec.referral.urgency == "emergency"
    tier = rules.pack.tiers.tiers["emergency"] if rules.pack.tiers else None
    assert tier is not None and tier.title is not None
    translated = rules.pack.locales["es"]
    assert rec.referral.header == translated["tiers.emergency.header"] != tier.header
    assert rec.referral.title == translated["tiers.emergency.title"] != tier.title
    for out in (rec.explain(), rec.to_markdown()):
        assert translated["tiers.emergency.header"] in out
        assert tier.header not in out and tier.title not in out


_WARN_RULE = "triage.adolescent.adult-rules"  # warns the clinician once, for anyone under 18


def test_a_spanish_recommendation_warns_the_clinician_in_spanish(rules: backrx.RuleSet) -> None:
    """A Spanish warning (Notice.message) is the locale's rules.<id>.warn text; code and rules stay."""
    english, spanish = (rules.recommend(base_profile(age=15), locale=lang) for lang in ("en", "es"))
    rule = next(r for r in rules.pack.rules if r.id == _WARN_RULE)
    [(key, message)] = warn_keys(rule)
    translated = rules.pack.locales["es"][key]
    assert [(n.code, n.rule_ids) for n in spanish.warnings] == \
        [(n.code, n.rule_ids) for n in english.warnings]
    assert [n.message for n in english.warnings if _WARN_RULE in n.rule_ids] == [message]
    assert [n.message for n in spanish.warnings if _WARN_RULE in n.rule_ids] == [translated]
    assert translated != message
    assert all(n.message != message for n in spanish.warnings)


def test_a_warning_translation_with_a_placeholder_the_english_lacks_is_refused(tmp_path: Path) -> None:
    """A Spanish warning naming a field its English message lacks is refused at load (bad-template)."""
    pack = _pack_with_spanish(tmp_path)
    es = pack / "locales" / "es.yaml"
    line = _set(es, "warn", "Menor de 18 años ({age}): revise el plan.", indent="    ",
                after=f"  {_WARN_RULE}:")
    problems = _refused(pack)
    assert [(p.file, p.line, p.code, p.location) for p in problems] == [
        ("locales/es.yaml", line, "bad-template", f"rules.{_WARN_RULE}.warn")]
    assert "names a field the English text does not fill" in problems[0].message
