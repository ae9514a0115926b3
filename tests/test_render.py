"""Reports for two audiences: patient and clinician views in text, Markdown and HTML."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from tests.conftest import base_profile

import backrx
from backrx.cli import main
from backrx.model.feedback import ExerciseResponse
from backrx.pack.examples import example_names, example_text
from backrx.pack.read import bundled_path
from backrx.render import render, view_formats
from backrx.render.keys import template_keys

#: Words a clinician uses that a patient handout should not (the pack's patient texts avoid them).
JARGON = ("STarT", "directional preference", "design choice", "psychosocial", "stenosis",
          "multifidus", "trapezius", "peripheral", "rationale", "prediction rule", "backrx uses",
          "isometric", "lumbar", "thoracic")


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(example_text(name))
    return data


@pytest.fixture(scope="module")
def example_recs(rules: backrx.RuleSet) -> dict[str, backrx.Recommendation]:
    """A recommendation for every bundled example."""
    return {name: rules.recommend(_example(name)) for name in example_names()}


def _jargon(text: str) -> list[str]:
    """Jargon words in a text (a word written in mixed case, like STarT, must match its case)."""
    return [w for w in JARGON if re.search(rf"\b{re.escape(w)}", text,
                                           0 if w.lower() != w else re.IGNORECASE)]


def _ids_in(text: str, rules: backrx.RuleSet) -> list[str]:
    found = [r.id for r in rules.pack.rules if r.id in text]
    found += [s for s in rules.pack.sources if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text)]
    return found


@pytest.mark.parametrize("fmt", view_formats())
def test_patient_view_has_no_rule_ids_source_ids_or_jargon(
    example_recs: dict[str, backrx.Recommendation], rules: backrx.RuleSet, fmt: str
) -> None:
    """For every example and format, the patient view shows no rule id, no source id and no jargon."""
    for name, rec in example_recs.items():
        out = render(rec, fmt, view="patient", rules=rules)
        assert _ids_in(out, rules) == [], (name, fmt)
        shown = "".join(_parse(out).text) if fmt == "html" else out
        assert _jargon(shown) == [], (name, fmt)


def test_patient_view_lists_only_exclusions_that_concern_the_person(rules: backrx.RuleSet) -> None:
    """A home-only person is not told about gym machines; the clinician still sees why they are out."""
    rec = rules.recommend(base_profile(preferences={"settings": ["home"]}))
    excluded = {e.exercise_name for e in rec.program.excluded}  # type: ignore[union-attr]
    assert "Leg press machine" in excluded
    patient = render(rec, "text", view="patient", rules=rules)
    clinician = render(rec, "text", view="clinician", rules=rules)
    assert "Leg press machine" not in patient
    assert "Leg press machine" in clinician and "exclude.leg-press" in clinician
    gym = rules.recommend(base_profile(preferences={"settings": ["gym"]}))
    assert "Leg press machine" in render(gym, "text", view="patient", rules=rules)


def test_patient_exclusion_uses_the_rules_patient_text(rules: backrx.RuleSet) -> None:
    """A left-out exercise is explained to the patient with the rule's plain text, not its rationale."""
    rec = rules.recommend(base_profile(preferences={"settings": ["gym"]}))
    out = render(rec, "md", view="patient", rules=rules)
    rule = rules.rule("exclude.leg-press")
    assert rule.patient is not None and rule.patient.split(";")[0] in out
    assert rule.rationale.split(";")[0] not in out


def test_clinician_view_has_rules_sources_with_years_trace_and_exclusions(
    example_recs: dict[str, backrx.Recommendation], rules: backrx.RuleSet
) -> None:
    """The clinician view names rule ids, cites sources with their years, and lists the trace."""
    rec = example_recs["stenosis"]
    out = render(rec, "text", view="clinician", rules=rules)
    for f in rec.trace:
        assert f.rule_id in out
    for ref in rec.references:
        source = rules.pack.sources[ref.id]
        assert f"[{ref.id}]" in out
        if source.year is not None:
            assert f"({source.year})" in out
    for e in rec.program.excluded:  # type: ignore[union-attr]
        assert e.exercise_name in out


def test_warnings_reach_the_clinician_only(pack_copy: Path) -> None:
    """Recommendation.warnings are listed in the clinician view and never in the patient view."""
    path = pack_copy / "classification.yaml"
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + """
  - id: classify.review-severe
    title: Review severe pain
    when: {pain_intensity: {gte: 8}}
    then:
      warn: {code: review-me, message: Re-examine before loading.}
    rationale: Severe pain at {pain_intensity}/10.
    sources: [long-2004]
""", encoding="utf-8")
    own = backrx.load_rules(pack_copy)
    warned = own.recommend(base_profile(pain_intensity=9))
    assert [w.code for w in warned.warnings] == ["review-me"]
    for fmt in view_formats():
        clinician = render(warned, fmt, view="clinician", rules=own)
        assert "review-me" in clinician and "Re-examine before loading." in clinician
        assert "classify.review-severe" in clinician
        patient = render(warned, fmt, view="patient", rules=own)
        assert "review-me" not in patient and "Re-examine" not in patient


def test_report_words_come_from_the_pack(pack_copy: Path, rules: backrx.RuleSet) -> None:
    """Headings and labels are read from the pack's text.yaml, so a clinic can reword them."""
    path = pack_copy / "text.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "heading.why: Why this plan", "heading.why: The thinking behind your plan"), encoding="utf-8")
    own = backrx.load_rules(pack_copy)
    rec = own.recommend(base_profile())
    for fmt in view_formats():
        assert "The thinking behind your plan" in render(rec, fmt, view="patient", rules=own)
        assert "The thinking behind your plan" not in render(rec, fmt, view="patient", rules=rules)


def test_every_text_key_the_templates_use_is_in_the_bundled_pack(rules: backrx.RuleSet) -> None:
    """Each t("key") in the templates and the renderer, and each key built from a vocabulary, exists."""
    keys = template_keys()
    assert len(keys) > 40
    missing = sorted(k for k in keys if k not in rules.pack.texts)
    assert missing == []


def test_a_text_yaml_problem_names_file_line_and_key(pack_copy: Path) -> None:
    """A bad text.yaml entry fails the load with text.yaml:line and the key."""
    path = pack_copy / "text.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  Bad Key: x\n  label.empty: ''\n",
                    encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(pack_copy)
    codes = {(p.file, p.code) for p in info.value.problems}
    assert ("text.yaml", "bad-id") in codes and ("text.yaml", "wrong-type") in codes
    assert all(p.line for p in info.value.problems)


def test_a_rules_patient_text_is_checked_like_its_rationale(pack_copy: Path) -> None:
    """A patient text naming an unknown field fails the load with the rule id and the line."""
    path = pack_copy / "exclusions.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    patient: >-\n", "    patient: >-\n      {no_such.field}\n", 1),
                    encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(pack_copy)
    problem = info.value.problems[0]
    assert problem.file == "exclusions.yaml" and problem.rule_id and problem.line
    assert "no_such.field" in problem.message


def test_every_rule_whose_text_reaches_the_patient_has_a_patient_text(rules: backrx.RuleSet) -> None:
    """Triage, classification, components, exclusions and adjust rules all carry a plain patient text
    (a states rule only names a state for triage to read, and an education rule's words are its module's)."""
    silent = {"dosing", "states"}
    without = [r.id for r in rules.pack.rules if r.layer not in silent and not r.patient
               and not (r.then.educate and r.layer == "components" and not r.then.prescribe)]
    assert without == []
    assert rules.pack.education.modules and all(m.title and m.text for m in rules.pack.education.modules)


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Html:
    parser = _Html()
    parser.feed(html)
    return parser


def test_log_table_columns_are_the_feedback_fields(example_recs: dict[str, backrx.Recommendation]) -> None:
    """The next-day log's columns are exactly the fields adjust reads from one response, in order:
    one log (the current phase) for the patient, one per phase for the clinician."""
    html = render(example_recs["chronic-extension"], "html")
    fields = [a["data-field"] for tag, a in _parse(html).tags if tag == "th" and "data-field" in a]
    assert fields == list(ExerciseResponse.model_fields)
    html = render(example_recs["chronic-extension"], "html", view="clinician")
    fields = [a["data-field"] for tag, a in _parse(html).tags if tag == "th" and "data-field" in a]
    phases = len(example_recs["chronic-extension"].program.phases)  # type: ignore[union-attr]
    assert fields == list(ExerciseResponse.model_fields) * phases


def test_referral_handout_puts_the_safety_net_first(example_recs: dict[str, backrx.Recommendation]) -> None:
    """On a referral the handout opens with the safety net, is not headed as an exercise plan, and
    holds no exercises."""
    rec = example_recs["red-flag-emergency"]
    assert rec.outcome == "refer"
    html = render(rec, "html")
    assert html.index('id="safety-net"') < html.index('id="referral"')
    parsed = _parse(html)
    h1 = "".join(parsed.text[[t for t, _ in parsed.tags].index("h1"):][:1])
    assert "exercise plan" not in h1.lower()
    assert 'class="phase"' not in html and "prescription" not in html


def test_html_is_autoescaped(pack_copy: Path) -> None:
    """Pack text with markup is shown as text in the HTML handout, never run as markup."""
    path = pack_copy / "phases.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "Settle the pain,", "Settle <script>alert(1)</script> the pain,", 1), encoding="utf-8")
    own = backrx.load_rules(pack_copy)
    html = render(own.recommend(base_profile()), "html", rules=own)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_markdown_table_survives_a_pipe_in_pack_text(pack_copy: Path) -> None:
    """A pipe or emphasis mark in a pack text is escaped, so the Markdown table keeps its columns."""
    path = pack_copy / "exercises.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "name: Cat-camel", "name: Cat | camel *wide*", 1), encoding="utf-8")
    own = backrx.load_rules(pack_copy)
    out = render(own.recommend(base_profile()), "md", view="patient", rules=own)
    row = next(line for line in out.splitlines() if "Cat \\| camel" in line)
    assert row.count(" | ") == 2 and "\\*wide\\*" in row


def test_media_from_the_catalog_shows_with_alt_text(pack_copy: Path) -> None:
    """An exercise's optional media URLs become an image with alt text or a video link for the
    clinician; the patient sees the drawn figure, and the video as a link."""
    path = pack_copy / "exercises.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("  - id: cat-camel\n", "  - id: cat-camel\n    media: [https://example.org/cat.png, "
                        "https://example.org/cat.mp4]\n", 1)
    path.write_text(text, encoding="utf-8")
    own = backrx.load_rules(pack_copy)
    rec = own.recommend(base_profile())
    exercise = next(p.exercise for ph in rec.program.phases for p in ph.prescriptions  # type: ignore[union-attr]
                    if p.exercise.id == "cat-camel")
    assert exercise.media == ["https://example.org/cat.png", "https://example.org/cat.mp4"]
    html = render(rec, "html", rules=own, view="clinician")
    img = [a for tag, a in _parse(html).tags if tag == "img"]
    assert img == [{"src": "https://example.org/cat.png", "alt": "Picture: Cat-camel"}]
    assert 'href="https://example.org/cat.mp4"' in html
    patient = render(rec, "html", rules=own)
    if 'data-exercise="cat-camel"' in patient:  # cat-camel is in the current phase
        assert 'href="https://example.org/cat.mp4"' in patient and "<img" not in patient


def test_a_media_entry_must_be_a_url(pack_copy: Path) -> None:
    """A media entry that is not an http(s) URL or a media/ path fails the load with its line."""
    path = pack_copy / "exercises.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  - id: cat-camel\n", "  - id: cat-camel\n    media: ['javascript:alert(1)']\n", 1),
        encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(pack_copy)
    assert [(p.file, p.code) for p in info.value.problems] == [("exercises.yaml", "bad-url")]


def test_weekly_schedule_is_drawn_where_a_phase_has_one(rules: backrx.RuleSet) -> None:
    """A phase with a week (Phase.week) shows a day-by-day table naming each day's exercises
    (clinician view); the patient's table marks each exercise's days, rest days empty."""
    rec = rules.recommend(base_profile())
    assert rec.program is not None
    phase = rec.program.phases[0]
    first = next(p.exercise for p in phase.prescriptions if p.exercise.category != "education")
    week = [SimpleNamespace(day=d, prescriptions=[first.id] if d % 2 else [], minutes=12.0)
            for d in range(1, 8)]
    program = rec.program.model_copy(update={"phases": [phase.model_copy(update={"week": week}),
                                                        *rec.program.phases[1:]]})
    changed = rec.model_copy(update={"program": program})
    html = render(changed, "html", rules=rules, view="clinician")
    table = html[html.index('<table class="week">'):]
    table = table[:table.index("</table>")]
    assert table.count("<th ") == 7 and table.count(first.name) == 4 and "Rest day" in table
    html = render(changed, "html", rules=rules)
    table = html[html.index('<table class="week">'):]
    table = table[:table.index("</table>")]
    row = next(r for r in table.split("<tr>") if rules.pack.texts[f"plain.{first.id}.name"] in r)
    assert row.count('<td class="mark">✓</td>') == 4 and row.count('<td class="mark"></td>') == 3


def test_template_dir_overrides_a_bundled_template(tmp_path: Path, rules: backrx.RuleSet) -> None:
    """A clinic's template folder replaces the bundled template of the same name."""
    (tmp_path / "handout.css").write_text("body { color: #000; } /* clinic-style */", encoding="utf-8")
    rec = rules.recommend(base_profile())
    html = render(rec, "html", rules=rules, template_dir=tmp_path)
    assert "clinic-style" in html and "--accent" not in html
    with pytest.raises(ValueError, match="does not exist"):
        render(rec, "html", template_dir=tmp_path / "missing")


def test_an_override_can_extend_the_bundled_template(tmp_path: Path, rules: backrx.RuleSet) -> None:
    """A clinic's handout.html.j2 can extend backrx/handout.html.j2 and replace one block only."""
    (tmp_path / "handout.html.j2").write_text(
        '{% extends "backrx/handout.html.j2" %}{% block header %}<header><h1>{{ title }}</h1>'
        "<p>Riverside clinic</p></header>{% endblock %}", encoding="utf-8")
    html = render(rules.recommend(base_profile()), "html", rules=rules, template_dir=tmp_path)
    assert "<p>Riverside clinic</p>" in html and 'class="phase' in html


@pytest.mark.parametrize(("paper", "size"), [("a4", "size: A4"), ("letter", "size: letter")])
def test_paper_size_reaches_the_print_css(rules: backrx.RuleSet, paper: str, size: str) -> None:
    """The --paper option sets the @page size of the printed handout."""
    assert size in render(rules.recommend(base_profile()), "html", paper=paper)


def test_cli_default_views_are_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         rules: backrx.RuleSet) -> None:
    """Without --view, text is explain() and md is to_markdown(), as before."""
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(base_profile()), encoding="utf-8")
    rec = rules.recommend(base_profile())
    assert main(["recommend", str(profile)]) == 0
    assert capsys.readouterr().out == rec.explain() + "\n"
    assert main(["recommend", str(profile), "--format", "md"]) == 0
    assert capsys.readouterr().out == rec.to_markdown()


def test_cli_views_on_recommend_and_adjust(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           rules: backrx.RuleSet) -> None:
    """--view patient|clinician works on recommend and adjust; the patient view shows no rule id."""
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(base_profile()), encoding="utf-8")
    assert main(["recommend", str(profile), "--format", "json"]) == 0
    rec_file = tmp_path / "rec.json"
    rec_file.write_text(capsys.readouterr().out, encoding="utf-8")
    rec = backrx.Recommendation.model_validate_json(rec_file.read_text(encoding="utf-8"))
    first = rec.program.phases[0].prescriptions[2].exercise.id  # type: ignore[union-attr]
    feedback = tmp_path / "fb.yaml"
    feedback.write_text(yaml.safe_dump({"date": "2026-01-05", "responses": [
        {"exercise_id": first, "pain_during": 7, "next_day": "worse", "peripheralized": False}]}),
        encoding="utf-8")
    for command in (["recommend", str(profile)], ["adjust", str(rec_file), str(feedback)]):
        for fmt in view_formats():
            assert main([*command, "--format", fmt, "--view", "patient"]) == 0
            patient = capsys.readouterr().out
            assert _ids_in(patient, rules) == [], (command[0], fmt)
            assert main([*command, "--format", fmt, "--view", "clinician"]) == 0
            assert "triage.safety-net" in capsys.readouterr().out
    assert main(["adjust", str(rec_file), str(feedback), "--format", "text", "--view", "patient"]) == 0
    out = capsys.readouterr().out
    assert "Changes after your feedback" in out
    change_rule = rules.rule("adjust.worse.drop")
    assert change_rule.patient is not None and change_rule.patient in out


def test_unknown_view_or_format_is_a_value_error(rules: backrx.RuleSet) -> None:
    """render() refuses an unknown format, view or paper with a ValueError naming the choices."""
    rec = rules.recommend(base_profile())
    for kwargs in ({"fmt": "pdf"}, {"view": "nurse"}, {"paper": "a3"}):
        with pytest.raises(ValueError, match="unknown"):
            render(rec, **kwargs)  # type: ignore[arg-type]


def test_bundled_pack_copy_without_text_yaml_falls_back_to_the_bundled_words(pack_copy: Path) -> None:
    """A clinic pack without its own text.yaml still renders, with the bundled pack's words."""
    (pack_copy / "text.yaml").unlink()
    own = backrx.load_rules(pack_copy)
    # only the words of the pack's other books remain (figures, the do-not-do list, education modules)
    books = ("plain.", "figure.", "donotdo.", "education.")
    assert [k for k in own.pack.texts if not k.startswith(books)] == []
    assert "Why this plan" in render(own.recommend(base_profile()), "text", view="patient", rules=own)


def test_checked_templates_are_bundled() -> None:
    """The templates ship inside the package (so the wheel renders HTML outside the checkout)."""
    from backrx.render import TEMPLATES

    names = {p.name for p in TEMPLATES.iterdir()}
    assert {"handout.html.j2", "handout.md.j2", "handout.txt.j2", "handout.css", "timeline.svg.j2"} <= names
    assert bundled_path().joinpath("text.yaml").is_file()


def _phase_words(rules: backrx.RuleSet, rec: backrx.Recommendation, fmt: str) -> tuple[str, str]:
    """The pack's headings of the safety net and of "what comes next", in the record's language, as
    heading lines of the format (a Markdown heading; a text line ending in a colon)."""
    from backrx.render.context import pack_texts

    t = pack_texts(rules.pack, rec.locale)
    line = "\n## {}\n" if fmt == "md" else "\n{}:\n"
    return line.format(t("heading.safety_net")), line.format(t("handout.next.heading"))


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_patient_text_and_markdown_put_the_safety_net_first_and_the_current_phase_in_full(
        example_recs: dict[str, backrx.Recommendation], rules: backrx.RuleSet, fmt: str) -> None:
    """The patient's text and Markdown handouts open with the safety net, show the current phase's
    exercises, and name each later phase only under "what comes next" (none of their exercises)."""
    seen = 0
    for name, rec in example_recs.items():
        if rec.program is None or rec.outcome == "refer":
            continue
        safety, later_heading = _phase_words(rules, rec, fmt)
        page = render(rec, fmt, view="patient").replace("\\", "")
        phases = rec.program.phases
        at = next(i for i, ph in enumerate(phases) if ph.id == rec.program.current_phase)
        now, later = phases[at], phases[at + 1:]
        shown = [min((i for i in (page.find(rules.pack.texts.get(f"plain.{p.exercise.id}.name") or "\0"),
                                  page.find(p.exercise.name)) if i > -1), default=-1)
                 for p in now.prescriptions]  # by its plain name or its own
        assert shown and all(i > -1 for i in shown), name  # every exercise of the current phase
        first_exercise = min(shown)
        assert -1 < page.find(safety) < first_exercise, name
        assert page.count(safety) == 1, name  # not repeated at the end
        assert page.count(now.name) == 1, name
        now_ids = {p.exercise.id for p in now.prescriptions}
        for p in (p for ph in later for p in ph.prescriptions if p.exercise.id not in now_ids):
            assert p.rationale not in page, (name, p.exercise.id)
        if later:
            assert page.find(later_heading) > first_exercise, name
            assert all(page.find(ph.name) > page.find(later_heading) for ph in later), name
            seen += 1
        else:
            assert later_heading not in page, name
    assert seen >= 3  # most bundled examples have phases still to come


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_clinician_text_and_markdown_keep_the_whole_program(
        example_recs: dict[str, backrx.Recommendation], rules: backrx.RuleSet, fmt: str) -> None:
    """The clinician's text and Markdown views show every phase with its exercises, and no
    "what comes next" summary."""
    for name, rec in example_recs.items():
        if rec.program is None or rec.outcome == "refer":
            continue
        _, later_heading = _phase_words(rules, rec, fmt)
        page = render(rec, fmt, view="clinician").replace("\\", "")
        assert later_heading not in page, name
        for ph in rec.program.phases:
            assert ph.name in page, name
            assert all(" ".join(p.exercise.name.split()) in page for p in ph.prescriptions), (name, ph.id)
