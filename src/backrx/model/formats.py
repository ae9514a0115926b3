"""One registry of output formats for a Recommendation.

Each format names the function that renders it by import path, the way packaging entry points do,
so the model can offer ``rec.explain()``, ``rec.to_markdown()`` and ``rec.to_fhir()`` without
importing the renderers (they sit in rooms above the model and import it). A new output format is
one entry here plus its renderer module; the CLI's ``--format`` choices come from this table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Format:
    """An output format: its name, the renderer ``module:function`` and what it produces."""

    name: str
    target: str
    produces: str

    def renderer(self) -> Callable[..., Any]:
        """The rendering function, imported when first asked for."""
        module, _, function = self.target.partition(":")
        found: Callable[..., Any] = getattr(importlib.import_module(module), function)
        return found


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("text", "backrx.render.report:explain", "a plain-text account of why this plan"),
    Format("md", "backrx.render.report:handout", "a Markdown handout"),
    Format("html", "backrx.render:render", "an HTML handout (patient or clinician view)"),
    Format("fhir", "backrx.interop.fhir:to_fhir", "a FHIR R4 Bundle as JSON data"),
    Format("cert", "backrx.render.cert:cert_markdown", "a CERT report (Slade 2016) in Markdown"),
    Format("ics", "backrx.render.ics:to_ics", "an iCalendar (RFC 5545) of the current phase's sessions"),
)}


def renderer(name: str) -> Callable[..., Any]:
    """The function that renders format ``name``; ValueError names the known formats."""
    found = FORMATS.get(name)
    if found is None:
        raise ValueError(f"unknown format {name!r}; formats are {', '.join(sorted(FORMATS))}")
    return found.renderer()


__all__ = ["FORMATS", "Format", "renderer"]
