"""The text keys the renderer and its templates look up (so a pack or a locale can be checked)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from backrx.model.feedback import ExerciseResponse, Feedback
from backrx.model.recommendation import Action
from backrx.model.vocabulary import RISKS, URGENCIES

_HERE = Path(__file__).resolve().parent
_CALL = re.compile(r"""\bt(?:\.get)?\(\s*["']([a-z0-9_.]+)["']""")
_STAGES = ("acute", "subacute", "chronic")


def template_keys() -> set[str]:
    """Every key used: literal ``t("key")`` calls in the templates and the renderers (the Jinja
    context, and report.py's text and Markdown reports), and the keys built from closed
    vocabularies (urgencies, stages, risks, change actions, log columns)."""
    keys: set[str] = set()
    for path in [*sorted((_HERE / "templates").iterdir()), _HERE / "context.py", _HERE / "report.py"]:
        keys |= set(_CALL.findall(path.read_text(encoding="utf-8")))
    keys |= {f"urgency.{u}.{part}" for u in URGENCIES for part in ("heading", "advice")}
    keys |= {f"stage.{s}.clinician" for s in _STAGES}
    keys |= {f"risk.{r}.clinician" for r in (*RISKS, "unknown")}
    keys |= {f"report.stage.{s}" for s in _STAGES} | {f"report.risk.{r}" for r in RISKS}
    keys |= {f"change.{a}" for a in get_args(Action)}
    keys |= {"direction.extension", "direction.flexion"}
    keys |= {f"log.{name}" for name in ExerciseResponse.model_fields}
    keys |= {f"log.{name}.hint" for name in ExerciseResponse.model_fields if name != "exercise_id"}
    keys |= {f"log.{name}" for name in Feedback.model_fields if name != "responses"}
    keys |= {"dose.sets_reps", "disclaimer"}
    return keys
