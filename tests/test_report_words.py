"""explain() and to_markdown() take every word from the pack's text.yaml, in the recommendation's locale."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import base_profile

import backrx
from backrx.cli import main
from backrx.model.recommendation import DISCLAIMER, bundled_disclaimer
from backrx.pack.examples import example_names, example_text
from backrx.pack.read import bundled_path
from backrx.render import explain, handout
from backrx.render.keys import template_keys

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def _report_keys(rules: backrx.RuleSet) -> dict[str, str]:
    return {k: v for k, v in rules.pack.texts.items() if k.startswith("report.")}


def _pieces(text: str) -> list[str]:
    """The fixed words of a text, cut at its placeholders (pieces of 10+ characters)."""
    return [p.strip() for p in _PLACEHOLDER.split(text) if len(p.strip()) >= 10]


def _carried(rec: backrx.Recommendation) -> list[str]:
    """The texts a Recommendation carries that the pack keeps in English (rationales, warnings,
    exclusion reasons, rule titles, evidence notes, reasons for changes), longest first."""
    out = [*rec.rationale, *(w.message for w in rec.warnings), *(f.title for f in rec.trace),
           *(f.evidence.describe() for f in rec.trace if f.evidence is not None)]
    if rec.program is not None:
        out += [p.rationale for ph in rec.program.phases for p in ph.prescriptions]
        out += [r for e in rec.program.excluded for r in e.reasons]
    out += [r.reason_of(c) for r in rec.adjustments for c in r.changes]
    return sorted(set(out), key=len, reverse=True)


def _without(text: str, carried: list[str]) -> str:
    for item in carried:
        text = text.replace(item, "")
    return text


def _adjusted(rules: backrx.RuleSet, locale: str) -> backrx.Recommendation:
    """A stenosis plan after one dated round of feedback, with outcome measures (a progress summary)."""
    profile = yaml.safe_load(example_text("stenosis"))
    profile["outcomes"] = {"nprs": 6, "odi": 40}
    rec = rules.recommend(profile, locale=locale)
    assert rec.program is not None
    first = rec.program.phases[0].prescriptions[2].exercise.id
    feedback = {"date": "2026-01-05", "outcomes": {"nprs": 4, "odi": 38},
                "responses": [{"exercise_id": first, "pain_during": 2, "next_day": "better",
                               "peripheralized": False}]}
    return backrx.adjust(rec, feedback, rules=rules)


@pytest.fixture(scope="module")
def both(rules: backrx.RuleSet) -> dict[str, tuple[backrx.Recommendation, backrx.Recommendation]]:
    """Every bundled example (and an adjusted plan), in English and in Spanish."""
    out = {n: (rules.recommend(yaml.safe_load(example_text(n))),
               rules.recommend(yaml.safe_load(example_text(n)), locale="es")) for n in example_names()}
    out["stenosis-adjusted"] = (_adjusted(rules, "en"), _adjusted(rules, "es"))
    return out


def test_every_report_text_is_a_key_the_renderer_uses(rules: backrx.RuleSet) -> None:
    """keys.py lists report.py's keys, and text.yaml holds no report.* key that nothing reads."""
    used = {k for k in template_keys() if k.startswith("report.")}
    assert len(used) > 100
    assert used == set(_report_keys(rules))


@pytest.mark.parametrize("module", ["render/account.py", "render/__init__.py", "model/words.py"])
def test_the_account_renderer_holds_no_sentence(rules: backrx.RuleSet, module: str) -> None:
    """No string literal of the account's renderer or of the words module (docstrings aside) holds
    an English report text."""
    tree = ast.parse((ROOT / "src" / "backrx" / module).read_text(encoding="utf-8"))
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}  # docstrings
    literals = {n.value for n in ast.walk(tree)
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs}
    pieces = {p for text in _report_keys(rules).values() for p in _pieces(text)}
    assert len(pieces) > 60
    assert sorted(p for p in pieces if any(p in lit for lit in literals)) == []


def test_the_english_reports_show_the_english_report_words(
        both: dict[str, tuple[backrx.Recommendation, backrx.Recommendation]], rules: backrx.RuleSet) -> None:
    """The English account and handout are full of the English report texts (so the check below is real)."""
    pieces = {p for text in _report_keys(rules).values() for p in _pieces(text)}
    english = "\n".join(explain(en) + handout(en) for en, _ in both.values())
    assert sum(1 for p in pieces if p in english) > 40


def test_spanish_explain_and_handout_speak_spanish(
        both: dict[str, tuple[backrx.Recommendation, backrx.Recommendation]], rules: backrx.RuleSet) -> None:
    """A Spanish recommendation's explain() and to_markdown() carry the Spanish report words and none
    of the English ones (the texts the rules keep in English, such as rationales, aside)."""
    es = rules.pack.locales["es"]
    english = {p for k, text in _report_keys(rules).items() if es[f"text.{k}"] != text for p in _pieces(text)}
    for name, (_, rec) in both.items():
        assert rec.locale == "es"
        text, md = rec.explain(), rec.to_markdown()
        shown = _without(text + "\n" + md, _carried(rec))
        leaked = [p for p in english if p in shown]
        assert leaked == [], (name, leaked[:5])
        outcome = "report.outcome.refer" if rec.outcome == "refer" else "report.outcome.program"
        assert text.splitlines()[0] == es[f"text.{outcome}"]
        assert es["text.report.heading.trace"] in text
        assert es["text.report.md.heading.references"] in md
        if rec.outcome == "program":
            assert md.startswith("# " + es["text.report.md.title.program"])
            assert "| Ejercicio | Cuánto | Por qué |" in md
            assert "Día  Minutos  Qué hacer" in text
    text, md = both["stenosis-adjusted"][1].explain(), both["stenosis-adjusted"][1].to_markdown()
    assert "Cómo va (2026-01-05, semana 1):" in text and "Ajustes (probar y medir):" in text
    assert "| Medida | Al principio | Última | Cambio | ¿Un cambio importante? |" in md
    assert "(usted está aquí)" in md


def test_the_spanish_dose_is_spanish(rules: backrx.RuleSet) -> None:
    """Doses read in Spanish in a Spanish account: sets, repetitions, holds, times a week."""
    rec = rules.recommend(base_profile(), locale="es")
    doses = "\n".join(line for line in rec.explain().splitlines() if line.startswith("  * "))
    assert "repeticiones" in doses and "a la semana" in doses
    assert not re.search(r"\d+ sets? x \d+ reps|times a week|\bdaily\b|each side", doses)


def test_a_changed_report_text_in_a_pack_copy_changes_the_reports(
        pack_copy: Path, rules: backrx.RuleSet) -> None:
    """A clinic that rewords a report.* text (English or Spanish) sees its words in explain() and the
    handout rendered with its pack; the bundled pack's words stay as they were."""
    text = pack_copy / "text.yaml"
    text.write_text(text.read_text(encoding="utf-8")
                    .replace('report.heading.why: "Why:"', 'report.heading.why: "Reasons behind the plan:"')
                    .replace("report.md.heading.why: Why this plan", "report.md.heading.why: Our reasons"),
                    encoding="utf-8")
    es = pack_copy / "locales" / "es.yaml"
    es.write_text(es.read_text(encoding="utf-8").replace(
        'report.outcome.program: "Resultado: un programa de ejercicios."',
        'report.outcome.program: "Resultado: su programa."'), encoding="utf-8")
    own = backrx.load_rules(pack_copy)
    rec = own.recommend(base_profile())
    assert "\nReasons behind the plan:\n" in explain(rec, rules=own)
    assert "\n## Our reasons\n" in handout(rec, rules=own)
    assert "Reasons behind the plan:" not in rec.explain() and "\nWhy:\n" in rec.explain()
    assert "Our reasons" not in rec.to_markdown()
    spanish = own.recommend(base_profile(), locale="es")
    assert explain(spanish, rules=own).startswith("Resultado: su programa.\n")
    assert spanish.explain().startswith("Resultado: un programa de ejercicios.\n")


def test_the_cli_writes_the_text_report_in_the_words_of_its_pack(
        pack_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx recommend --rules DIR --format text` uses DIR's report words."""
    text = pack_copy / "text.yaml"
    text.write_text(text.read_text(encoding="utf-8").replace(
        "report.outcome.program: \"Outcome: an exercise program.\"",
        "report.outcome.program: \"Result: a program of exercise.\""), encoding="utf-8")
    profile = tmp_path / "p.yaml"
    profile.write_text(example_text("stenosis"), encoding="utf-8")
    assert main(["recommend", str(profile), "--rules", str(pack_copy), "--format", "text"]) == 0
    assert capsys.readouterr().out.startswith("Result: a program of exercise.\n")


def test_check_names_a_report_key_a_locale_misses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx check` exits 1 and names the report.* key a locale leaves out."""
    import shutil

    pack = tmp_path / "pack"
    shutil.copytree(bundled_path(), pack, ignore=shutil.ignore_patterns("cases"))
    path = pack / "locales" / "es.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    del doc["text"]["report.week.heading"]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert main(["check", str(pack)]) == 1
    err = capsys.readouterr().err
    assert "locale es: 1 missing, 0 extra" in err and "missing  text.report.week.heading" in err


def test_the_progress_block_defaults_to_the_bundled_english(rules: backrx.RuleSet) -> None:
    """The account's progress block, rendered without a pack, speaks the bundled pack's English."""
    rec = _adjusted(rules, "en")
    assert rec.progress is not None
    assert "\n\nProgress (2026-01-05, week 1):\n  Phase: " in explain(rec)


def test_the_disclaimer_has_one_source(rules: backrx.RuleSet) -> None:
    """The model's default disclaimer is the bundled pack's text, the same words older documents carry;
    no Python module spells it out."""
    older: dict[str, Any] = json.loads((FIXTURES / "format-1" / "stenosis.json").read_text(encoding="utf-8"))
    assert bundled_disclaimer() == DISCLAIMER == rules.pack.texts["disclaimer"] == older["disclaimer"]
    sources = [p for p in (ROOT / "src").rglob("*.py")
               if "assessment by a qualified health" in p.read_text(encoding="utf-8")]
    assert sources == []


def test_a_document_without_a_disclaimer_reads_the_packs(rules: backrx.RuleSet) -> None:
    """Recommendation JSON that carries no disclaimer validates, with the bundled pack's."""
    data = json.loads((FIXTURES / "format-1" / "stenosis.json").read_text(encoding="utf-8"))
    expected = data.pop("disclaimer")
    rec = backrx.Recommendation.model_validate(data)
    assert rec.disclaimer == expected
    assert expected in rec.explain()
