"""populations.yaml: each population's limits, declared once (issue 23, "populations as data").

A population names who belongs to it (``when``: a condition on the profile and the clinical
states), the exercise it must avoid in every phase (``avoid``: exclusion rules), the elements it
needs and on how many days a week (``require``), and its preferred aerobic modes (``aerobic``).

The loader turns each ``avoid`` entry into an exclusions-layer rule whose condition is the
population's ``when`` and the entry's own ``when`` together, and each ``require`` entry into a
components-layer rule that prescribes its candidates (role ``population``) in the phases it names.
Both engines then run them like any rule, and the trace names them. What stays here, in a
`PopulationBook` on the pack, is what a reader needs that a rule does not hold: membership,
the weekly floors, the aerobic order and the planner's messages (`backrx.run.populations`).
"""

from __future__ import annotations

from typing import Any

from backrx.model.vocabulary import FieldSpec
from backrx.pack.conditions import Scope, parse_condition
from backrx.pack.popbook import Population, PopulationBook, Requirement
from backrx.pack.read import Ctx, check_keys, int_value, join, line_of, str_list, text_value
from backrx.readers import safe_yaml

__all__ = ["FILE", "ROLE", "Population", "PopulationBook", "Requirement", "read_populations"]

FILE = "populations.yaml"
ROLE = "population"  # the planner.yaml role of a required element: never dropped for time
_TOP_KEYS = ("description", "messages", "populations")
_POP_KEYS = ("id", "name", "when", "avoid", "require", "aerobic", "sources", "hazard")
_REQ_KEYS = ("id", "element", "phases", "days_per_week", "candidates", "when", "rationale", "patient",
             "sources", "evidence", "design", "title")
MESSAGES = ("requirement_unmet", "element_missing", "below_floor")


def _node(base: Any, keep: tuple[str, ...] | None = None, **changes: Any) -> safe_yaml.LDict:
    """A rule node built from ``base`` (its ``keep`` keys, or all) with keys changed, keeping its
    lines for problems."""
    kept = {k: v for k, v in (base.items() if isinstance(base, dict) else ()) if keep is None or k in keep}
    out = safe_yaml.LDict({**kept, **changes})
    out.line = getattr(base, "line", 0)
    out.key_lines = dict(getattr(base, "key_lines", {}))
    return out


def _both(first: Any, second: Any) -> Any:
    return first if second is None else {"all": [first, second]}


def read_populations(ctx: Ctx, doc: Any, derived: dict[str, tuple[str, FieldSpec]], phases: set[str]
                     ) -> tuple[PopulationBook, list[tuple[Any, str]], list[tuple[Any, str]]]:
    """The book, and the rule nodes for the exclusions and the components layers."""
    excl: list[tuple[Any, str]] = []
    comp: list[tuple[Any, str]] = []
    if not check_keys(ctx, doc, "", ("populations",), _TOP_KEYS):
        return PopulationBook(), excl, comp
    messages: dict[str, tuple[str, str]] = {}
    for key in MESSAGES:
        node = (doc.get("messages") or {}).get(key)
        if not isinstance(node, dict) or not {"code", "message"} <= set(node):
            ctx.add(line_of(doc, "messages"), "missing-value", f"messages.{key} needs a code and a message",
                    join("messages", key))
            continue
        messages[key] = (str(node["code"]), " ".join(str(node["message"]).split()))
    pops: list[Population] = []
    if not isinstance(doc["populations"], list):
        ctx.add(line_of(doc, "populations"), "wrong-type", "populations must be a list", "populations")
        return PopulationBook((), messages), excl, comp
    for i, node in enumerate(doc["populations"]):
        where = f"populations[{i}]"
        ctx.rule_id = None
        if not check_keys(ctx, node, where, ("id", "name", "when", "sources"), _POP_KEYS):
            continue
        scope = Scope("exclusions", derived, "profile")
        when = parse_condition(ctx, scope, node["when"], join(where, "when"))
        name = text_value(ctx, node, "name", where)
        sources = str_list(ctx, node, "sources", where)
        aerobic = str_list(ctx, node, "aerobic", where) if "aerobic" in node else []
        hazard = text_value(ctx, node, "hazard", where) if "hazard" in node else None
        avoid_ids: list[str] = []
        for j, rule in enumerate(node.get("avoid") or []):
            here = join(where, f"avoid[{j}]")
            excl.append((_node(rule, when=_both(node["when"], rule.get("when") if isinstance(rule, dict)
                                                else None)), here))
            if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                avoid_ids.append(rule["id"])
        reqs = [req for j, _ in enumerate(node.get("require") or [])
                if (req := _requirement(ctx, node, j, where, phases, comp)) is not None]
        if when is not None and name is not None:
            pops.append(Population(str(node["id"]), name, when, tuple(avoid_ids), tuple(reqs),
                                   tuple(aerobic), tuple(sources), hazard))
    return PopulationBook(tuple(pops), messages), excl, comp


def _requirement(ctx: Ctx, pop: Any, j: int, where: str, phases: set[str],
                 comp: list[tuple[Any, str]]) -> Requirement | None:
    here = join(where, f"require[{j}]")
    node = pop["require"][j]
    if not check_keys(ctx, node, here, ("id", "element", "phases", "days_per_week", "candidates",
                                        "rationale", "patient", "sources"), _REQ_KEYS):
        return None
    ctx.rule_id = str(node["id"])
    req_phases = str_list(ctx, node, "phases", here)
    for phase in req_phases:
        if phase not in phases:
            ctx.add(line_of(node, "phases"), "unknown-phase", f"phase {phase!r} is not in phases.yaml",
                    join(here, "phases"))
            return None
    days = int_value(ctx, node, "days_per_week", here, 1, 7)
    candidates = str_list(ctx, node, "candidates", here)
    if days is None or not candidates:
        return None
    rule: dict[str, Any] = {}
    rule["title"] = node.get("title") or f"{pop.get('name')}: {node['element']} work"
    rule["priority"] = 1
    rule["when"] = _both(pop["when"], node.get("when"))
    rule["then"] = {"prescribe": [{"phase": p, "exercises": list(candidates), "pick": 1, "role": ROLE}
                                  for p in req_phases]}
    comp.append((_node(node, ("id", "rationale", "patient", "sources", "evidence", "design"), **rule), here))
    return Requirement(str(node["id"]), str(node["element"]), tuple(req_phases), days, tuple(candidates))
