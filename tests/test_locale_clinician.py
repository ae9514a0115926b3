"""The clinician's words in Spanish: each rule's title and rationale are texts of the locale, so the
clinician view (text, Markdown, HTML), the trace, FHIR and the CDS Hooks cards of a Spanish
recommendation carry them in Spanish. A translated rationale names exactly the placeholders of its
English rationale, or the pack is refused at load; a missing one is a `backrx check` failure."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml
from tests.conftest import base_profile
from tests.test_doors_output import _refused, _set
from tests.test_handout_patient import _sentences
from tests.test_locale import _pack_with_spanish, _visible, english_fragments

import backrx
from backrx.cli import main
from backrx.interop.cds_hooks import cards
from backrx.interop.fhir import to_fhir
from backrx.pack.examples import example_names, example_text
from backrx.pack.locale import catalog
from backrx.render import render, view_formats
from conftest import whole_word_hits

_CLINICIAN = (".rationale", ".title")
_RULE = "classify.pain.severe"  # a rationale with one placeholder, {pain_intensity}


@pytest.fixture(scope="module")
def pairs(rules: backrx.RuleSet) -> dict[str, tuple[backrx.Recommendation, backrx.Recommendation]]:
    """Every bundled example, recommended in English and in Spanish."""
    out = {}
    for name in example_names():
        profile = yaml.safe_load(example_text(name))
        out[name] = (rules.recommend(profile), rules.recommend(profile, locale="es"))
    return out


def _leaks(fragments: list[str], shown: str) -> list[str]:
    return whole_word_hits(fragments, shown)


def test_the_catalog_holds_every_rules_title_and_rationale(rules: backrx.RuleSet) -> None:
    """Each rule's title and rationale are locale keys, and es.yaml gives every one of them."""
    source = catalog(rules.pack)
    es = rules.pack.locales["es"]
    for rule in rules.pack.rules:
        for part, english in (("title", rule.title), ("rationale", rule.rationale)):
            key = f"rules.{rule.id}.{part}"
            assert source[key] == english
            assert es[key].strip()


def test_the_clinician_fragments_are_found_in_english_output(
        pairs: dict[str, tuple[backrx.Recommendation, backrx.Recommendation]], rules: backrx.RuleSet) -> None:
    """The leak check is real: the English clinician view of the examples shows many rationale and
    title fragments."""
    fragments = english_fragments(rules, "es", only=_CLINICIAN)
    assert len(fragments) > 400
    shown = "".join(_visible(render(en, "html", view="clinician", rules=rules), "html")
                    for en, _ in pairs.values())
    assert len(_leaks(fragments, shown)) > 40


@pytest.mark.parametrize("fmt", view_formats())
def test_spanish_clinician_view_holds_no_english_rationale_or_title(
        pairs: dict[str, tuple[backrx.Recommendation, backrx.Recommendation]], rules: backrx.RuleSet,
        fmt: str) -> None:
    """For every example and format, the Spanish clinician view shows no piece of an English rule
    rationale or title."""
    fragments = english_fragments(rules, "es", only=_CLINICIAN)
    for name, (_, es) in pairs.items():
        shown = _visible(render(es, fmt, view="clinician", rules=rules), fmt)
        assert _leaks(fragments, shown) == [], (name, fmt, _leaks(fragments, shown)[:5])


def test_spanish_clinician_html_shares_no_rationale_sentence_with_the_english(
        pairs: dict[str, tuple[backrx.Recommendation, backrx.Recommendation]], rules: backrx.RuleSet) -> None:
    """The sentences the English and Spanish clinician pages share (the handout check) include no
    sentence of a rationale or a title the English page shows."""
    for name, (en, es) in pairs.items():
        english = render(en, "html", view="clinician", rules=rules)
        shared = _sentences(english) & _sentences(render(es, "html", view="clinician", rules=rules))
        said = {f.rationale for f in en.trace} | {f.title for f in en.trace}
        ours = set().union(*(_sentences(f"<p>{text}</p>") for text in said))
        assert ours & _sentences(english), name  # the English page does show them
        assert sorted(shared & ours) == [], name


def test_a_spanish_recommendation_carries_spanish_titles_and_rationales(
        pairs: dict[str, tuple[backrx.Recommendation, backrx.Recommendation]], rules: backrx.RuleSet) -> None:
    """The trace of a Spanish recommendation holds each rule's Spanish title, and its rationales
    differ from the English ones wherever the rule's text does."""
    es_words = rules.pack.locales["es"]
    for en, es in pairs.values():
        assert [f.rule_id for f in es.trace] == [f.rule_id for f in en.trace]
        for e, s in zip(en.trace, es.trace, strict=True):
            assert s.title == es_words[f"rules.{s.rule_id}.title"]
            assert s.rationale != e.rationale
        assert not set(es.rationale) & set(en.rationale)


def test_a_placeholder_in_a_spanish_rationale_shows_the_value(rules: backrx.RuleSet) -> None:
    """A translated rationale is filled like the English one: the person's pain score shows in it."""
    rec = rules.recommend({**base_profile(), "pain_intensity": 8}, locale="es")
    said = next(f.rationale for f in rec.trace if f.rule_id == _RULE)
    assert "8 sobre 10" in said and "{" not in said


@pytest.mark.parametrize("fmt", ["fhir", "cds"])
def test_spanish_fhir_and_cds_cards_hold_no_english_rationale(
        pairs: dict[str, tuple[backrx.Recommendation, backrx.Recommendation]], rules: backrx.RuleSet,
        fmt: str) -> None:
    """The FHIR Bundle and the CDS Hooks cards of a Spanish recommendation show its rationales in
    Spanish and no piece of an English one."""
    fragments = english_fragments(rules, "es", only=(".rationale",))
    for name, (_, es) in pairs.items():
        data = (to_fhir(es) if fmt == "fhir"
                else cards(es, patient_id="p1", hook_instance=uuid.UUID(int=1)))
        shown = json.dumps(data, ensure_ascii=False)
        assert _leaks(fragments, shown) == [], (name, _leaks(fragments, shown)[:5])
        if es.program is not None:
            assert es.rationale[0] in shown


@pytest.mark.parametrize(("text", "why"), [
    ("Su dolor es de {age} sobre 10.", "names a field the English text does not fill"),
    ("Su dolor es intenso.", "leaves out the placeholder {pain_intensity}"),
    ("Su dolor es de {pain_intensity:>99} sobre 10.", "format spec"),
    ("Su dolor es de {pain_intensity} sobre 10 {", "malformed placeholder"),
])
def test_a_rationale_translation_with_other_placeholders_is_refused(
        tmp_path: Path, text: str, why: str) -> None:
    """A Spanish rationale that adds, drops or decorates a placeholder of the English rationale is
    refused at load, naming locales/es.yaml, the line and the rule's key."""
    pack = _pack_with_spanish(tmp_path)
    es = pack / "locales" / "es.yaml"
    line = _set(es, "rationale", text, indent="    ", after=f"  {_RULE}:")
    problems = _refused(pack)
    assert [(p.file, p.line, p.code, p.location) for p in problems] == [
        ("locales/es.yaml", line, "bad-template", f"rules.{_RULE}.rationale")]
    assert why in problems[0].message and _RULE in problems[0].message


def test_a_rule_title_translation_holds_no_placeholder(tmp_path: Path) -> None:
    """A title is never filled, so a translated title with a placeholder is refused at load."""
    pack = _pack_with_spanish(tmp_path)
    es = pack / "locales" / "es.yaml"
    line = _set(es, "title", "Dolor intenso ({pain_intensity})", indent="    ", after=f"  {_RULE}:")
    problems = _refused(pack)
    assert [(p.file, p.line, p.code, p.location) for p in problems] == [
        ("locales/es.yaml", line, "bad-template", f"rules.{_RULE}.title")]


def test_check_names_a_missing_rationale_and_title(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx check` exits 1 on a locale without a rule's rationale or title (translation-missing);
    the pack still loads, and that rule's rationale shows in English."""
    pack = _pack_with_spanish(tmp_path)
    path = pack / "locales" / "es.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    del doc["rules"][_RULE]["rationale"], doc["rules"][_RULE]["title"]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert main(["check", str(pack)]) == 1
    err = capsys.readouterr().err
    assert "locale es: 2 missing, 0 extra" in err
    assert f"missing  rules.{_RULE}.rationale  [code=translation-missing]" in err
    assert f"missing  rules.{_RULE}.title  [code=translation-missing]" in err
    loaded = backrx.load_rules(pack)
    rec = loaded.recommend({**base_profile(), "pain_intensity": 8}, locale="es")
    english = next(r for r in loaded.pack.rules if r.id == _RULE)
    fired = next(f for f in rec.trace if f.rule_id == _RULE)
    assert (fired.title, fired.rationale) == (english.title, english.rationale.format(pain_intensity=8))
