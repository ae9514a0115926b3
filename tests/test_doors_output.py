"""Door 4, output: nothing a pack or a person types can inject into a handout or an explanation.

Links are https:, http: or mailto: only, checked when the pack loads; Markdown and HTML never
carry raw HTML; report words hold only the placeholders the renderer fills, checked at load;
free text holding a control character is refused; and a blocking tier's words never read like
a plan that goes on, while the tier, not the words, decides which block of a handout renders.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import base_profile

import backrx
from backrx.model.feedback import Feedback
from backrx.model.measures import Outcomes
from backrx.model.recommendation import Override
from backrx.model.untrusted import HIDDEN, is_link, url_problem
from backrx.pack.read import HIDDEN as PACK_HIDDEN
from backrx.pack.texts import TEXT_FIELDS, Texts, fill
from backrx.render import render, view_formats
from backrx.render.keys import template_fields

BAD_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    'https://example.org/"><script>alert(1)</script>',
    "https://example.org/><img src=x onerror=alert(1)>",
    "//evil.example/x",
    "https://clinic.example@evil.example/",
    "https://example.org/a b",
    "file:///etc/passwd",
]
CONTROL = ["\x1b[31m", "\x07", "\x00", "\x7f", "\x9b", "\u202e", "\u200b"]
EXTENSION = {"accept": [{"phase": "calm", "exercise_id": "double-knee-to-chest",
                         "acknowledge": ["direction"]}]}


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` in the file by ``new``; the 1-based line where it was."""
    text = path.read_text(encoding="utf-8")
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
    return text.count("\n", 0, at) + 1


def _set(path: Path, key: str, value: str, indent: str = "  ", after: str = "") -> int:
    """Give ``key`` (at ``indent``, first after the line ``after``) the one-line text ``value``,
    dropping the lines its old text ran on over; the line of the key."""
    lines = path.read_text(encoding="utf-8").split("\n")
    start = lines.index(after) if after else 0
    at = next(i for i in range(start, len(lines)) if lines[i].startswith(f"{indent}{key}:"))
    end = at + 1
    while end < len(lines) and lines[end].startswith(indent + "  ") and ":" not in lines[end].split()[0]:
        end += 1
    lines[at:end] = [f"{indent}{key}: {json.dumps(value, ensure_ascii=False)}"]
    path.write_text("\n".join(lines), encoding="utf-8")
    return at + 1


def _refused(pack: Path) -> list[backrx.Problem]:
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(pack)
    return info.value.problems


class _Links(HTMLParser):
    """Every href and src of an HTML page, and every element name."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.links += [v or "" for k, v in attrs if k in ("href", "src")]


def _raw_html(markdown: str) -> list[str]:
    """The places where Markdown would pass HTML through: an unescaped ``<`` that does not open
    an autolink to an https:, http: or mailto: address (CommonMark's raw HTML starts so)."""
    out = []
    for found in re.finditer(r"(?<!\\)<", markdown):
        auto = re.match(r"<([^<>\s]*)>", markdown[found.start():])
        if auto is None or not is_link(auto.group(1)):
            out.append(markdown[found.start():found.start() + 40])
    return out


def _stored(rec: backrx.Recommendation, **changes: Any) -> backrx.Recommendation:
    """The recommendation as a stored record edited by someone: JSON, changed, read back."""
    data = json.loads(rec.model_dump_json())
    data.update(changes)
    return backrx.Recommendation.model_validate_json(json.dumps(data))


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_source_url_that_is_not_https_http_or_mailto_is_refused_at_load(pack_copy: Path, url: str) -> None:
    """A source url that is no https:/http:/mailto: link is a bad-url problem naming file, line and id."""
    line = _edit(pack_copy / "sources.yaml", 'url: "https://www.eurekalert.org/news-releases/904355"',
                 f"url: {json.dumps(url)}")
    problems = _refused(pack_copy)
    assert [(p.file, p.line, p.code, p.location) for p in problems] == [
        ("sources.yaml", line, "bad-url", "sources[0].url")]
    assert "finucane-2020" in problems[0].message
    assert url not in problems[0].message and "script" not in problems[0].message


@pytest.mark.parametrize("url", ["mailto:backpain@clinic.example", "http://example.org/guideline?id=3",
                                 "https://example.org/a%20b#part"])
def test_https_http_and_mailto_links_load_and_are_shown(pack_copy: Path, url: str) -> None:
    """A well-formed https:, http: or mailto: url loads and is shown as a link to the clinician."""
    _edit(pack_copy / "sources.yaml", 'url: "https://www.eurekalert.org/news-releases/904355"',
          f"url: {json.dumps(url)}")
    own = backrx.load_rules(pack_copy)
    rec = own.recommend(base_profile(red_flags=["saddle_anaesthesia"]))
    assert url in [r.url for r in rec.references]
    parser = _Links()
    parser.feed(render(rec, "html", view="clinician", rules=own))
    assert url.replace("&", "&amp;") in parser.links or url in parser.links


def test_a_media_path_that_climbs_out_of_media_is_refused(pack_copy: Path) -> None:
    """An exercise's media is an https:/http: link or a plain path under media/, never ../ or a script."""
    for bad in ("media/../../secret.png", "media/x.png\"onerror=alert(1)", "javascript:alert(1)",
                "mailto:x@example.org"):
        _edit(pack_copy / "exercises.yaml", "  - id: cat-camel\n",
              f"  - id: cat-camel\n    media: [{json.dumps(bad)}]\n")
        problems = _refused(pack_copy)
        assert [(p.file, p.code) for p in problems] == [("exercises.yaml", "bad-url")], bad
        assert bad not in problems[0].message
        _edit(pack_copy / "exercises.yaml", f"    media: [{json.dumps(bad)}]\n", "")


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_stored_javascript_link_never_becomes_an_html_link(rules: backrx.RuleSet, url: str) -> None:
    """A stored record carrying a bad reference url renders with no link to it, in every view."""
    rec = rules.recommend(base_profile(red_flags=["saddle_anaesthesia"]))
    refs = json.loads(rec.model_dump_json())["references"]
    refs[0]["url"] = url
    stored = _stored(rec, references=refs)
    for view in ("clinician", "patient"):
        parser = _Links()
        parser.feed(render(stored, "html", view=view, rules=rules))
        assert all(link.startswith("#") or is_link(link) for link in parser.links), parser.links
        assert not parser.tags & {"script", "img", "iframe", "object", "embed"}


@pytest.mark.parametrize("url", BAD_URLS)
def test_raw_html_never_reaches_markdown(rules: backrx.RuleSet, url: str) -> None:
    """No Markdown output (template or to_markdown) lets a stored url or pack text through as raw HTML."""
    rec = rules.recommend(base_profile(red_flags=["saddle_anaesthesia"]))
    refs = json.loads(rec.model_dump_json())["references"]
    refs[0]["url"] = url
    refs[1]["citation"] = "<img src=x onerror=alert(1)> <script>alert(2)</script>"
    stored = _stored(rec, references=refs)
    outputs = {"to_markdown": stored.to_markdown(),
               **{view: render(stored, "md", view=view, rules=rules) for view in ("clinician", "patient")}}
    for name, markdown in outputs.items():
        assert _raw_html(markdown) == [], name


def test_the_raw_html_check_sees_raw_html() -> None:
    """The Markdown check is real: a tag or a javascript autolink is found, an https autolink is not."""
    assert _raw_html("see <https://example.org/x> and \\<b\\>") == []
    assert len(_raw_html("<img src=x> and <javascript:alert(1)>")) == 2


@given(st.text(max_size=60))
def test_a_link_never_holds_a_quote_bracket_space_or_control_character(text: str) -> None:
    """Whatever a pack writes, an accepted link cannot end an HTML attribute or a Markdown autolink."""
    url = "https://example.org/" + text
    assume(url_problem(url) is None)
    assert not re.search(r"[\s<>\"'`\\]", url) and HIDDEN.search(url) is None


# --------------------------------------------------------------------------- placeholders


@pytest.mark.parametrize("placeholder", ["{version:>50000000}", "{bogus}", "{version!r}",
                                         "{version.__class__}", "{0}", "{}", "{name[0]}"])
def test_a_report_word_placeholder_is_checked_at_load(pack_copy: Path, placeholder: str) -> None:
    """A text.yaml placeholder with a format spec, or one the renderer does not fill, is refused at load."""
    line = _edit(pack_copy / "text.yaml", "footer.made_by: Plan made with {name} {version}.",
                 f'footer.made_by: "Plan made with {{name}} {placeholder}."')
    problems = _refused(pack_copy)
    assert [(p.file, p.line, p.code, p.location) for p in problems] == [
        ("text.yaml", line, "bad-template", "text.footer.made_by")]


@pytest.mark.parametrize("placeholder", ["{version:>50000000}", "{bogus}"])
def test_a_locale_placeholder_is_checked_at_load(pack_copy: Path, placeholder: str) -> None:
    """A translation's placeholder with a spec, or not filled in that text, is refused at load."""
    es = pack_copy / "locales" / "es.yaml"
    old = next(line for line in es.read_text(encoding="utf-8").splitlines() if "footer.made_by" in line)
    line = _edit(es, old, f'  footer.made_by: "Plan hecho con {{name}} {placeholder}."')
    problems = _refused(pack_copy)
    assert [(p.file, p.line, p.code, p.location) for p in problems] == [
        ("locales/es.yaml", line, "bad-template", "text.footer.made_by")]


def test_a_translated_rule_text_names_only_the_fields_its_english_text_fills(pack_copy: Path) -> None:
    """A rule's translated patient text may not bring in a field or a format spec of its own."""
    es = pack_copy / "locales" / "es.yaml"
    rules = yaml.safe_load(es.read_text(encoding="utf-8"))["rules"]
    rule_id = next(r for r, e in rules.items() if "patient" in e)
    for text in ("Edad: {age:>9000000}", "Edad: {bogus}"):
        line = _set(es, "patient", text, indent="    ", after=f"  {rule_id}:")
        problems = _refused(pack_copy)
        assert [(p.file, p.line, p.code, p.location) for p in problems] == [
            ("locales/es.yaml", line, "bad-template", f"rules.{rule_id}.patient")]


def test_the_placeholder_table_is_what_the_renderer_fills() -> None:
    """TEXT_FIELDS names, for every key, exactly the names the templates and renderers fill it with."""
    used = {key: names for key, names in template_fields().items() if names}
    assert used == {key: set(names) for key, names in TEXT_FIELDS.items()}


@given(st.lists(st.sampled_from(["{name}", "{version:>50000000}", "{name!r}", "{x.__class__}", "{{", "}}",
                                 "{n:0>9999}", " words "]), max_size=20),
       st.text(max_size=30))
def test_filling_a_text_never_evaluates_a_format_spec(pieces: list[str], value: str) -> None:
    """However a text's placeholders are written, a filled text grows only by the values put in it."""
    text = "".join(pieces)
    filled = fill(text, {"name": value, "version": "1.0", "n": 3})
    assert len(filled) <= len(text) + pieces.count("{name}") * len(value)


def test_a_text_that_skipped_the_loader_renders_its_placeholder_as_written() -> None:
    """The renderer fills a text, it never formats it: a spec or a stray name is shown as written."""
    t = Texts({"footer.made_by": "{name} {version:>50000000} {bogus}"})
    assert t("footer.made_by", name="backrx", version="1") == "backrx {version:>50000000} {bogus}"


# --------------------------------------------------------------------------- free text


@pytest.mark.parametrize("char", CONTROL)
@pytest.mark.parametrize("field", ["by", "reason"])
def test_an_override_with_a_control_character_is_refused(rules: backrx.RuleSet, field: str,
                                                         char: str) -> None:
    """ESC, BEL, NUL, DEL, C1 and bidi or invisible characters in by/reason are refused, unechoed."""
    rec = rules.recommend(base_profile(directional_preference="extension"))
    who = {"by": "Dr B", "reason": "tolerated in clinic"}
    who[field] = f"Dr{char}B evil"
    with pytest.raises(ValidationError) as info:
        backrx.override(rec, EXTENSION, **who, rules=rules)
    (error,) = info.value.errors()
    assert (error["type"], error["loc"]) == ("control-character", (field,))
    assert "evil" not in str(info.value)


def test_a_stored_override_edited_to_hold_an_escape_is_refused_before_explain(rules: backrx.RuleSet) -> None:
    """A stored record whose override by/reason was edited to hold ESC or BEL does not load at all."""
    rec = rules.recommend(base_profile(directional_preference="extension"))
    made = backrx.override(rec, EXTENSION, by="Dr B", reason="tolerated in clinic", rules=rules)
    data = json.loads(made.model_dump_json())
    for field, value in (("by", "Dr B\x1b]0;pwned\x07"), ("reason", "ok\x1b[2J")):
        edited = json.loads(json.dumps(data))
        edited["overrides"][0][field] = value
        with pytest.raises(ValidationError) as info:
            backrx.Recommendation.model_validate_json(json.dumps(edited))
        assert {e["type"] for e in info.value.errors()} == {"control-character"}
    assert "\x1b" not in made.explain() and "\x07" not in made.explain()


def test_a_multi_line_reason_is_kept_on_one_line(rules: backrx.RuleSet) -> None:
    """Line breaks and tabs in a reason are not refused: they become single spaces in the record."""
    rec = rules.recommend(base_profile(directional_preference="extension"))
    made = backrx.override(rec, EXTENSION, by="Dr\tB", reason="seen today\r\nflexion tolerated", rules=rules)
    assert (made.overrides[0].by, made.overrides[0].reason) == ("Dr B", "seen today flexion tolerated")


@given(st.text(min_size=1, max_size=40))
def test_an_override_record_never_holds_a_hidden_character(text: str) -> None:
    """Whatever is typed as who or why, a stored override holds it unchanged or is refused."""
    record = {"number": 1, "kind": "add", "phase": "calm", "overrode": [], "reason": text, "by": text,
              "after_round": 0}
    if HIDDEN.search(text) is not None:
        with pytest.raises(ValidationError) as info:
            Override.model_validate(record)
        assert {e["type"] for e in info.value.errors()} == {"control-character"}
    else:
        assert Override.model_validate(record).by == text


def test_feedback_and_psfs_activities_with_control_characters_are_refused() -> None:
    """The other typed texts, a feedback exercise id and a PSFS activity, refuse control characters too."""
    with pytest.raises(ValidationError) as info:
        Feedback.model_validate({"date": "2026-01-05", "responses": [
            {"exercise_id": "cat-camel\x1b[8m", "pain_during": 2, "next_day": "same"}]})
    assert [e["type"] for e in info.value.errors()] == ["control-character"]
    with pytest.raises(ValidationError) as info:
        Outcomes.model_validate({"psfs": [{"activity": "walking\u202eevil", "score": 4}]})
    assert [e["type"] for e in info.value.errors()] == ["control-character"]


def test_free_text_refuses_what_the_pack_loader_refuses() -> None:
    """The characters refused in typed text are the ones the pack loader refuses in pack text."""
    assert HIDDEN.pattern == PACK_HIDDEN.pattern


# --------------------------------------------------------------------------- urgency words


def _es_line(pack: Path, key: str) -> str:
    return next(line for line in (pack / "locales" / "es.yaml").read_text(encoding="utf-8").splitlines()
                if line.strip().startswith(key + ":"))


def test_a_locale_that_tells_an_emergency_to_keep_exercising_is_refused(pack_copy: Path) -> None:
    """A Spanish emergency advice that reuses the 'your program can continue' sentence fails to load."""
    es = pack_copy / "locales" / "es.yaml"
    keep = "Mientras espera, su programa de ejercicios puede continuar."
    line = _set(es, "urgency.emergency.advice", f"Vaya a urgencias. {keep}")
    problems = [p for p in _refused(pack_copy) if p.code == "blocking-tier-wording"]
    assert [(p.file, p.line, p.location) for p in problems] == [
        ("locales/es.yaml", line, "text.urgency.emergency.advice")]
    assert "text.urgency.routine.advice" in problems[0].message


def test_a_locale_whose_urgent_header_is_the_routine_one_is_refused(pack_copy: Path) -> None:
    """A blocking tier's header copied from the non-blocking tier (a translation of it) fails to load."""
    es = pack_copy / "locales" / "es.yaml"
    header = yaml.safe_load(es.read_text(encoding="utf-8"))["tiers"]["routine"]["header"]
    line = _set(es, "header", header, indent="    ", after="  urgent:")
    problems = [p for p in _refused(pack_copy) if p.code == "blocking-tier-wording"]
    assert [(p.file, p.line, p.location) for p in problems] == [
        ("locales/es.yaml", line, "tiers.urgent.header")]


def test_an_english_emergency_text_that_says_keep_exercising_is_refused(pack_copy: Path) -> None:
    """The pack's own emergency advice may not repeat the routine tier's 'program can continue' sentence."""
    english = yaml.safe_load((pack_copy / "text.yaml").read_text(encoding="utf-8"))["text"]
    keep = english["urgency.routine.advice"].split(". ")[-1]
    _set(pack_copy / "text.yaml", "urgency.emergency.advice",
         f"{english['urgency.emergency.advice']} {keep}")
    problems = [p for p in _refused(pack_copy) if p.code == "blocking-tier-wording"]
    assert [(p.file, p.location) for p in problems] == [("text.yaml", "text.urgency.emergency.advice")]


def test_the_bundled_pack_and_its_spanish_locale_load(rules: backrx.RuleSet) -> None:
    """The bundled pack and its Spanish locale pass every output check (links, placeholders, tier words)."""
    assert rules.locales == ("en", "es")
    assert all(is_link(source.url) for source in rules.pack.sources.values() if source.url)


@pytest.mark.parametrize("fmt", view_formats())
@pytest.mark.parametrize("locale", ["en", "es"])
def test_the_tier_decides_the_block_whatever_the_record_says(rules: backrx.RuleSet, fmt: str,
                                                             locale: str) -> None:
    """An emergency referral renders the referral block and no program, even if the outcome reads program."""
    program = rules.recommend(base_profile(), locale=locale)
    emergency = rules.recommend(base_profile(red_flags=["saddle_anaesthesia"]), locale=locale)
    assert emergency.referral is not None and emergency.referral.urgency == "emergency"
    stored = _stored(emergency, outcome="program", program=json.loads(program.model_dump_json())["program"])
    texts = rules.pack.locales.get(locale, {})
    keep = texts.get("text.urgency.routine.advice", rules.pack.texts["urgency.routine.advice"])
    advice = texts.get("text.urgency.emergency.advice", rules.pack.texts["urgency.emergency.advice"])
    assert program.program is not None
    phase_names = [ph.name for ph in program.program.phases]
    for view in ("patient", "clinician"):
        shown = " ".join(render(stored, fmt, view=view, rules=rules).split())
        assert fmt == "md" or " ".join(advice.split()) in shown
        assert " ".join(keep.split()) not in shown
        assert not [name for name in phase_names if name in shown.replace("\\", "")], (view, fmt)
    handout = stored.to_markdown().replace("\\", "")
    assert not [name for name in phase_names if name in handout]
