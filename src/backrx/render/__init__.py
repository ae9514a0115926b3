"""Reports of a Recommendation for two audiences, as text, Markdown or a printable HTML handout.

``render(rec, "html", view="patient")`` fills a Jinja2 template from the package (autoescaped for
HTML). A clinic can replace any template by putting a file of the same name in its own folder and
passing ``template_dir``; the words around the pack's texts come from the pack's ``text.yaml``.

Views:

- ``patient``: plain words only: no rule ids, no source ids, no jargon; risk worded kindly; only
  the exclusions that concern this person (not equipment or places they never had).
- ``clinician``: rule ids, sources with titles and years, warnings, every exclusion and why, and
  the trace of rules that fired.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from backrx.model.recommendation import Recommendation
from backrx.pack.load import read_pack
from backrx.pack.model import Pack
from backrx.render.context import build_context, pack_texts
from backrx.render.figures import figure_for

if TYPE_CHECKING:
    import jinja2

    from backrx.ruleset import RuleSet

View = Literal["patient", "clinician"]
Format = Literal["text", "md", "html"]
VIEWS: tuple[str, ...] = ("patient", "clinician")
FORMATS: tuple[str, ...] = ("text", "md", "html")
PAPERS = {"a4": "A4", "letter": "letter"}
TEMPLATES = Path(__file__).resolve().parent / "templates"
_SUFFIX = {"text": "txt", "md": "md", "html": "html"}


@functools.lru_cache(maxsize=1)
def bundled_pack() -> Pack:
    """The bundled pack's data (read once; no engine): its catalog and texts."""
    return read_pack()


def template_name(fmt: str) -> str:
    """The template file a format is rendered with (a clinic overrides it by this name)."""
    return f"handout.{_SUFFIX[fmt]}.j2"


def render(rec: Recommendation, fmt: str = "html", *, view: str = "patient", rules: RuleSet | None = None,
           template_dir: str | os.PathLike[str] | None = None, paper: str = "a4") -> str:
    """The report of ``rec`` for one audience, in one format.

    ``fmt`` is ``"text"``, ``"md"`` or ``"html"``; ``view`` is ``"patient"`` or ``"clinician"``;
    ``rules`` is the pack whose ``text.yaml`` words are used (default: the bundled pack's);
    ``template_dir`` a folder whose templates replace the bundled ones of the same name;
    ``paper`` (``"a4"`` or ``"letter"``) the print page size of the HTML handout.
    Raises ``ValueError`` for an unknown format, view or paper, or a template that fails.
    """
    import jinja2

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats are {', '.join(FORMATS)}")
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
    try:
        return env.get_template(template_name(fmt)).render(**context, t=texts)
    except jinja2.TemplateError as exc:
        raise ValueError(f"template {template_name(fmt)}: {exc}") from None


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


__all__ = ["FORMATS", "VIEWS", "md_escape", "render", "template_name"]
