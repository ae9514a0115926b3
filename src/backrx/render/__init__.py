"""Reports of a Recommendation for two audiences, as text, Markdown or a printable HTML handout.

Every report is a Jinja2 template from the package (autoescaped for HTML):
``render(rec, "html", view="patient")`` fills ``handout.html.j2``; without a view, the text and
Markdown formats are the combined account (`explain`, `handout`: ``account.txt.j2``,
``account.md.j2``). A clinic can replace any template by putting a file of the same name in its
own folder and passing ``template_dir``; the words around the pack's texts come from the pack's
``text.yaml``, and doses, tiers and frequencies are worded by `backrx.model.words`. The formats
themselves are the one registry, `backrx.model.formats`.

Views:

- ``patient``: plain words only: no rule ids, no source ids, no jargon; risk worded kindly; only
  the exclusions that concern this person (not equipment or places they never had).
- ``clinician``: rule ids, sources with titles and years, warnings, every exclusion and why, and
  the trace of rules that fired.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from backrx.model.formats import FORMATS as _REGISTRY
from backrx.model.recommendation import Recommendation
from backrx.model.untrusted import is_link
from backrx.pack.load import read_pack
from backrx.pack.model import Pack
from backrx.render.account import account_context, report_texts
from backrx.render.context import build_context, pack_texts
from backrx.render.figures import figure_for

if TYPE_CHECKING:
    import jinja2

    from backrx.ruleset import RuleSet

View = Literal["patient", "clinician"]
VIEWS: tuple[str, ...] = ("patient", "clinician")
PAPERS = {"a4": "A4", "letter": "letter"}
TEMPLATES = Path(__file__).resolve().parent / "templates"
_SUFFIX = {"text": "txt"}  # a format's template is handout.<suffix>.j2 (by default its own name)


@functools.lru_cache(maxsize=1)
def bundled_pack() -> Pack:
    """The bundled pack's data (read once; no engine): its catalog and texts."""
    return read_pack()


def template_name(fmt: str) -> str:
    """The template file a format is rendered with (a clinic overrides it by this name)."""
    return f"handout.{_SUFFIX.get(fmt, fmt)}.j2"


def view_formats() -> tuple[str, ...]:
    """The registered formats that have views (each rendered from its ``handout.*`` template)."""
    return tuple(name for name, fmt in _REGISTRY.items() if fmt.views)


def render(rec: Recommendation, fmt: str = "html", *, view: str = "patient", rules: RuleSet | None = None,
           template_dir: str | os.PathLike[str] | None = None, paper: str = "a4") -> str:
    """The report of ``rec`` for one audience, in one format.

    ``fmt`` is a registered format with views (``"text"``, ``"md"``, ``"html"``); ``view`` is
    ``"patient"`` or ``"clinician"``;
    ``rules`` is the pack whose ``text.yaml`` words are used (default: the bundled pack's);
    ``template_dir`` a folder whose templates replace the bundled ones of the same name;
    ``paper`` (``"a4"`` or ``"letter"``) the print page size of the HTML handout.
    Raises ``ValueError`` for an unknown format, view or paper, or a template that fails.
    """
    if fmt not in view_formats():
        raise ValueError(f"unknown format {fmt!r}; formats with views are {', '.join(view_formats())}")
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; views are {', '.join(VIEWS)}")
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; sizes are {', '.join(PAPERS)}")
    pack = rules.pack if rules is not None else bundled_pack()
    texts = pack_texts(pack, rec.locale)  # the report words in the language of the recommendation
    if template_dir is not None and not Path(template_dir).is_dir():
        raise ValueError(f"template folder {os.fspath(template_dir)!r} does not exist")
    env = _environment(None if template_dir is None else os.fspath(template_dir))
    context = build_context(rec, view, texts, pack.exercises, pack.planner, pack.blocking_urgencies,
                            figure_of=lambda eid: figure_for(pack, eid, texts.get))
    context["paper"] = PAPERS[paper]
    return _fill(env, template_name(fmt), context, texts)


def _fill(env: jinja2.Environment, name: str, context: dict[str, Any], texts: Any) -> str:
    """The template ``name`` filled; a template that fails is a ValueError naming it."""
    import jinja2

    try:
        return env.get_template(name).render(**context, t=texts)
    except jinja2.TemplateError as exc:
        raise ValueError(f"template {name}: {exc}") from None


def _account(rec: Recommendation, name: str, rules: RuleSet | None,
             template_dir: str | os.PathLike[str] | None) -> str:
    """The combined account of ``rec`` from the template ``name``, in the words of ``rules``' pack."""
    if template_dir is not None and not Path(template_dir).is_dir():
        raise ValueError(f"template folder {os.fspath(template_dir)!r} does not exist")
    env = _environment(None if template_dir is None else os.fspath(template_dir))
    texts = report_texts(rec, rules)
    context = account_context(rec, texts, rules)
    return _fill(env, name, context, texts)


def explain(rec: Recommendation, *, rules: RuleSet | None = None, view: str | None = None,
            template_dir: str | os.PathLike[str] | None = None, paper: str = "a4") -> str:
    """The plain-text report: the combined account of why this plan (``view`` None, what
    ``rec.explain()`` gives), or the ``"patient"`` or ``"clinician"`` view."""
    if view is not None:
        return render(rec, "text", view=view, rules=rules, template_dir=template_dir, paper=paper)
    return _account(rec, "account.txt.j2", rules, template_dir).removesuffix("\n")


def handout(rec: Recommendation, *, rules: RuleSet | None = None, view: str | None = None,
            template_dir: str | os.PathLike[str] | None = None, paper: str = "a4") -> str:
    """The Markdown report: the combined handout (``view`` None, what ``rec.to_markdown()``
    gives), or the ``"patient"`` or ``"clinician"`` view."""
    if view is not None:
        return render(rec, "md", view=view, rules=rules, template_dir=template_dir, paper=paper)
    return _account(rec, "account.md.j2", rules, template_dir)


def html(rec: Recommendation, *, rules: RuleSet | None = None, view: str | None = None,
         template_dir: str | os.PathLike[str] | None = None, paper: str = "a4") -> str:
    """The printable HTML handout (``view`` None: the patient's)."""
    return render(rec, "html", view=view or "patient", rules=rules, template_dir=template_dir, paper=paper)


@functools.lru_cache(maxsize=8)
def _environment(template_dir: str | None) -> jinja2.Environment:
    """The Jinja2 environment for a template folder (built once; templates compile once)."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        loaders.append(jinja2.FileSystemLoader(template_dir))
    bundled = jinja2.FileSystemLoader(str(TEMPLATES))
    # "backrx/handout.html.j2" always names the bundled file, so an override can extend it.
    loaders += [bundled, jinja2.PrefixLoader({"backrx": bundled})]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "html.j2", "svg.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["cell"] = _md_cell
    env.filters["inert"] = md_inert
    env.filters["autolink"] = _autolink
    return env


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>#|"})


def md_escape(value: object) -> str:
    """Text made inert in Markdown (no emphasis, links, HTML or table breaks from pack text).

    It is also put on one line: a line break in pack text could otherwise start a list item, a
    quote or a heading (a following "===" turns the line before into one).
    """
    return " ".join(str(value).split()).translate(_MD_SPECIAL)


def _md_cell(value: object) -> str:
    """Text for one Markdown table cell: escaped, on one line."""
    return " ".join(md_escape(value).split())


# The combined handout escapes a little more: HTML's special characters become entities too, so
# no Markdown viewer shows raw HTML from a pack or an input (`md_inert`).
_MD_INERT = re.compile(r"([\\`*_{}\[\]#!|~])")


def md_inert(value: object) -> str:
    """Text as literal Markdown: on one line, HTML's special characters as entities, every
    character that is markup anywhere in a line escaped."""
    line = " ".join(str(value).split())
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_INERT.sub(r"\\\1", line)


def _autolink(url: object) -> str:
    """A web address (https:, http:, mailto:) as a Markdown autolink; anything else as inert text."""
    return f"<{url}>" if isinstance(url, str) and is_link(url) else md_inert(url)


__all__ = ["VIEWS", "explain", "handout", "html", "md_escape", "md_inert", "render", "template_name",
           "view_formats"]
