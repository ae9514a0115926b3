"""The text keys the renderer and its templates look up (so a pack or a locale can be checked)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

from backrx.model.feedback import ExerciseResponse, Feedback
from backrx.model.recommendation import Action
from backrx.model.vocabulary import PATHWAYS, RISKS, URGENCIES

_HERE = Path(__file__).resolve().parent
_CALL = re.compile(r"""\bt(?:\.get)?\(\s*["']([a-z0-9_.]+)["']""")
_STAGES = ("acute", "subacute", "chronic")


def template_keys() -> set[str]:
    """Every key used: literal ``t("key")`` calls in the templates and the renderers (the Jinja
    contexts of context.py and account.py, and model/words.py's doses and tiers), and the keys built
    from closed vocabularies (urgencies, stages, risks, pathways, change actions, log columns)."""
    keys: set[str] = set()
    for path in [*sorted((_HERE / "templates").iterdir()), _HERE / "context.py", _HERE / "account.py",
                 _HERE.parent / "model" / "words.py"]:
        keys |= set(_CALL.findall(path.read_text(encoding="utf-8")))
    keys |= set(template_fields())  # also the keys of a t("a" if ... else "b") call
    keys |= {f"urgency.{u}.{part}" for u in URGENCIES for part in ("heading", "advice")}
    keys |= {f"stage.{s}.clinician" for s in _STAGES}
    keys |= {f"risk.{r}.clinician" for r in (*RISKS, "unknown")}
    keys |= {f"report.stage.{s}" for s in _STAGES} | {f"report.risk.{r}" for r in RISKS}
    keys |= {f"change.{a}" for a in get_args(Action)}
    keys |= {"direction.extension", "direction.flexion"}
    keys |= {f"pathway.{p}" for p in PATHWAYS}  # each pathway's display name
    keys |= {f"log.{name}" for name in ExerciseResponse.model_fields}
    keys |= {f"log.{name}.hint" for name in ExerciseResponse.model_fields if name != "exercise_id"}
    keys |= {f"log.{name}" for name in Feedback.model_fields if name != "responses"}
    keys |= {"dose.sets_reps", "disclaimer"}
    return keys


def _py_keys(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _py_keys(node.body) + _py_keys(node.orelse)
    return []


def template_fields() -> dict[str, set[str]]:
    """The placeholder names each literal key is filled with, read from the ``t("key", name=...)``
    calls of the templates and the renderers."""
    import jinja2
    from jinja2 import nodes

    out: dict[str, set[str]] = {}
    for path in sorted(_HERE.parent.rglob("*.py")):  # every module that fills a pack text with t(...)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "t" \
                    and call.args:
                for key in _py_keys(call.args[0]):
                    out.setdefault(key, set()).update(str(k.arg) for k in call.keywords)

    def jinja_keys(node: nodes.Node) -> list[str]:
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, nodes.CondExpr):
            return jinja_keys(node.expr1) + (jinja_keys(node.expr2) if node.expr2 is not None else [])
        return []

    env = jinja2.Environment()
    for path in sorted((_HERE / "templates").glob("*.j2")):
        for jcall in env.parse(path.read_text(encoding="utf-8")).find_all(nodes.Call):
            if isinstance(jcall.node, nodes.Name) and jcall.node.name == "t" and jcall.args:
                for key in jinja_keys(jcall.args[0]):
                    out.setdefault(key, set()).update(k.key for k in jcall.kwargs)
    return out
