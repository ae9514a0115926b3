"""A CERT report: the Consensus on Exercise Reporting Template (Slade 2016) filled for one program.

The items (numbers, domains, titles, and what only the clinic can state) are the pack's
``cert.yaml``; each item is filled here from the pack and the recommendation, naming the rules
that set it. Where backrx cannot know something (who delivers the sessions, say), the item says
so and names what the clinic must fill in. No item is ever empty. Output: Markdown
(`cert_markdown`, the ``cert`` format) or JSON data (`cert_report`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backrx.errors import Problem, RuleError
from backrx.model.recommendation import Prescription, Recommendation
from backrx.pack.model import Pack
from backrx.readers import safe_yaml

if TYPE_CHECKING:
    from backrx.ruleset import RuleSet

__all__ = ["FILE", "cert_markdown", "cert_report"]

FILE = "cert.yaml"
_ITEM_KEYS = {"number", "domain", "title", "fill", "backrx", "clinic"}


@dataclass(frozen=True)
class _Item:
    number: str
    domain: str
    title: str
    fill: str
    backrx: str
    clinic: str


def _problem(where: str, code: str, message: str) -> Problem:
    return Problem(FILE, None, None, code, message, where)


@functools.cache
def _items(path: str, digest: str) -> tuple[tuple[_Item, ...], tuple[str, ...]]:
    """cert.yaml of the pack at ``path`` (cached by pack digest): its items and sources."""
    del digest  # part of the cache key only: an edited pack reloads
    file = Path(path) / FILE
    if not file.is_file():
        raise RuleError([_problem("", "missing-file",
                                  "the pack has no cert.yaml, which a CERT report needs")])
    try:
        doc = safe_yaml.load_plain(file.read_text(encoding="utf-8"), FILE)
    except (OSError, UnicodeDecodeError, safe_yaml.YamlError):
        raise RuleError([_problem("", "bad-yaml", "cert.yaml cannot be read as YAML")]) from None
    nodes = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(nodes, list) or not nodes:
        raise RuleError([_problem("items", "missing-value", "cert.yaml lists its items under items:")])
    problems: list[Problem] = []
    out: list[_Item] = []
    for i, node in enumerate(nodes):
        where = f"items[{i}]"
        if not isinstance(node, dict) or not {"number", "domain", "title", "fill"} <= set(node) \
                or set(node) - _ITEM_KEYS:
            problems.append(_problem(where, "wrong-type", "an item has number, domain, title and fill, "
                                     "and may have backrx and clinic"))
            continue
        if node["fill"] not in FILLERS:
            problems.append(_problem(f"{where}.fill", "unknown-value",
                                     f"fill is one of {', '.join(sorted(FILLERS))}"))
            continue
        words = {k: " ".join(str(node.get(k) or "").split()) for k in _ITEM_KEYS}
        out.append(_Item(words["number"], words["domain"], words["title"], words["fill"], words["backrx"],
                         words["clinic"]))
    if problems:
        raise RuleError(problems)
    return tuple(out), tuple(str(s) for s in doc.get("sources") or ())


class _Facts:
    """What the fillers read: the recommendation, the pack, and the rules that fired, by layer."""

    def __init__(self, rec: Recommendation, pack: Pack) -> None:
        self.rec, self.pack = rec, pack
        self.fired: dict[str, list[str]] = {}
        for f in rec.trace:
            self.fired.setdefault(f.layer, []).append(f.rule_id)
        phases = rec.program.phases if rec.program is not None else []
        self.items: list[tuple[str, Prescription]] = [(p.id, x) for p in phases for x in p.prescriptions]
        self.unique: dict[str, Prescription] = {}
        for _, x in self.items:
            self.unique.setdefault(x.exercise.id, x)
        prefs = rec.profile.preferences if rec.profile is not None else None
        self.settings = list(prefs.settings) if prefs is not None else []
        self.equipment = list(prefs.equipment) if prefs is not None else []
        self.goals = list(prefs.goals) if prefs is not None else []

    def rules_of(self, items: list[Prescription], layer: str) -> list[str]:
        layers = {r.id: r.layer for r in self.pack.rules}
        return list(dict.fromkeys(r for x in items for r in x.rule_ids if layers.get(r) == layer))

    def adjust_rules(self, test: Callable[[Any], bool]) -> list[str]:
        return [r.id for r in self.pack.rules if r.layer == "adjust" and test(r.then)]

    def adherence(self) -> tuple[int, int, int]:
        """Sessions done, sessions planned and adverse events over the recorded rounds."""
        done = planned = events = 0
        for round_ in self.rec.adjustments:
            a = round_.feedback.adherence
            if a is not None:
                done, planned, events = done + a.sessions_done, planned + a.sessions_planned, \
                    events + len(a.adverse_events)
        return done, planned, events


Filled = tuple[list[str], list[str]]  # lines, rule ids


def _no_program(f: _Facts) -> Filled:
    ref = f.rec.referral
    urgency = ref.urgency if ref is not None else "a"
    return ([f"No exercise program was given: a referral ({urgency}) replaced it, so this item does not "
             "apply to this person."], list(ref.rule_ids) if ref is not None else [])


def _equipment(f: _Facts) -> Filled:
    needs = sorted({e for _, x in f.items for e in x.exercise.equipment})
    users = [x for _, x in f.items if x.exercise.equipment]
    lines = [f"Equipment the exercises need: {', '.join(needs)}." if needs
             else "None of the exercises needs equipment (body weight, floor, a chair or a wall)."]
    lines.append(f"Equipment the person listed: {', '.join(f.equipment) or 'none'}; backrx prescribes no "
                 "exercise that needs equipment the person did not list.")
    return lines, f.rules_of(users, "components")


def _delivery(f: _Facts) -> Filled:
    c = f.rec.classification
    return ([f"Individual: one program built for one person from their profile (stage {c.stage}, "
             f"pathways {', '.join(c.pathways) or 'none'}, "
             f"STarT Back risk {c.startback_risk or 'not given'})."],
            f.fired.get("classification", []))


def _supervision(f: _Facts) -> Filled:
    return ([f"Unsupervised by default: a self-directed program handed over as a printed handout with plain "
             f"steps and figures, done at {', '.join(f.settings) or 'home'}; the person reports next-day "
             "responses in feedback rounds."], [])


def _adherence_measure(f: _Facts) -> Filled:
    return [f"Feedback rounds recorded for this person so far: {len(f.rec.adjustments)}."], []


def _motivation(f: _Facts) -> Filled:
    advice = [x for x in f.unique.values() if x.exercise.category == "education"]
    goals = f.goals
    lines = [f"Education and advice items in the program: {', '.join(x.exercise.name for x in advice)}."
             if advice else "No education item is in this program."]
    lines.append("Each prescription says why it was chosen, in plain words; progress against the person's "
                 f"baseline measures is shown after each round; goals named: {len(goals)}.")
    return lines, f.rules_of(advice, "components")


def _progression_rule(f: _Facts) -> Filled:
    assert f.rec.program is not None
    lines = [f"{p.name} (weeks {p.start_week}-{p.end_week}, at least {p.min_days} days): move on when "
             + " ".join(p.progress_when) for p in f.rec.program.phases if p.progress_when]
    lines.append("Within a phase, an exercise goes up one step only after it was done with no worse next "
                 "day and no spreading symptoms, by the adjust rules named here; it goes down or stops "
                 "on a worse next day or spreading symptoms.")
    return lines, f.adjust_rules(lambda t: t.adjust in ("progress", "regress") or t.advance)


def _progression_done(f: _Facts) -> Filled:
    if not f.rec.adjustments:
        return ["Not yet progressed: no feedback round has been recorded. Report this item from the "
                "stored record (backrx adjust rounds) when the program ends."], []
    lines, rules = [], []
    for round_ in f.rec.adjustments:
        what = "; ".join(f"{c.action} {', '.join(c.exercise_ids) or c.phase}" for c in round_.changes)
        lines.append(f"Round {round_.round} ({round_.phase_before} -> {round_.phase_after}): "
                     f"{what or 'no change'}.")
        rules += [r for c in round_.changes for r in c.rule_ids]
    return lines, list(dict.fromkeys(rules))


def _exercises(f: _Facts) -> Filled:
    lines = [f"{x.exercise.name} [{x.exercise.id}; {x.exercise.category}, direction {x.exercise.direction}, "
             f"equipment {', '.join(x.exercise.equipment) or 'none'}]: {x.exercise.instructions} "
             f"(sources: {', '.join(x.sources) or 'none'})" for x in f.unique.values()]
    return lines or ["The program holds no exercise."], f.rules_of(list(f.unique.values()), "components")


def _home(f: _Facts) -> Filled:
    home = [x for x in f.unique.values() if "home" in x.exercise.settings]
    return ([f"{len(home)} of {len(f.unique)} exercises can be done at home; the whole program is a "
             f"home program unless the clinic supervises sessions (person's settings: "
             f"{', '.join(f.settings) or 'home'})."], f.rules_of(home, "components"))


def _non_exercise(f: _Facts) -> Filled:
    from backrx.render.donotdo import donotdo_for

    advice = [x for x in f.unique.values() if x.exercise.category == "education"]
    lines = [f"Education and advice: {', '.join(x.exercise.name for x in advice) or 'none'}.",
             f"Safety-net advice given: {len(f.rec.safety_net)} items."]
    dont = donotdo_for(f.pack, f.rec, "en")["items"]
    if dont:
        cited = sorted({s for i in dont for s in i["sources"]})
        lines.append("Care the person is told they do not need: "
                     f"{', '.join(i['name'] for i in dont)} ({', '.join(cited)}).")
    if f.rec.referral is not None:
        lines.append(f"Referral alongside the program: {f.rec.referral.urgency}.")
    rules = f.rules_of(advice, "components") + (list(f.rec.referral.rule_ids) if f.rec.referral else [])
    return lines, rules


def _adverse_events(f: _Facts) -> Filled:
    _, _, events = f.adherence()
    flags = sum(bool(r.feedback.new_red_flags) for r in f.rec.adjustments)
    return [f"Recorded so far: {events} adverse events; {flags} rounds reporting a new red flag."], \
        [r.id for r in f.pack.rules if r.layer == "adjust" and "feedback.new_red_flags" in r.reads]


def _setting(f: _Facts) -> Filled:
    where = sorted({s for x in f.unique.values() for s in x.exercise.settings} & set(f.settings or ["home"]))
    return [f"Where the person chose to exercise: {', '.join(f.settings) or 'home'}; the program's "
            f"exercises are done at: {', '.join(where) or 'home'}."], []


def _dose(f: _Facts) -> Filled:
    assert f.rec.program is not None
    lines = []
    for p in f.rec.program.phases:
        doses = "; ".join(f"{x.exercise.name}: {x.dose.describe() or 'as advised, no fixed dose'}"
                          for x in p.prescriptions)
        lines.append(f"{p.name} (weeks {p.start_week}-{p.end_week}, about {round(p.minutes_per_week)} "
                     f"minutes a week): {doses}.")
    return lines, f.fired.get("dosing", [])


def _tailored(f: _Facts) -> Filled:
    return (["Tailored: the exercises, their order and their doses follow from the person's profile "
             "through the rules named here; two people with different profiles get different programs."],
            f.fired.get("classification", []) + f.fired.get("components", []))


def _tailoring(f: _Facts) -> Filled:
    assert f.rec.program is not None
    lines = [f"Chosen for the classification ({', '.join(f.rec.classification.pathways) or 'general'}) "
             "by the components rules; left out by the exclusions rules: "
             f"{len(f.rec.program.excluded)} exercises.",
             f"Fitted to the person's equipment ({', '.join(f.equipment) or 'none'}), settings "
             f"({', '.join(f.settings) or 'home'}) and time; changed by clinicians: "
             f"{len(f.rec.overrides)} overrides on the record."]
    return lines, f.fired.get("exclusions", []) + f.fired.get("planner", [])


def _starting_level(f: _Facts) -> Filled:
    assert f.rec.program is not None
    first = f.rec.program.phases[0]
    tolerance = f.rec.profile.tolerance if f.rec.profile is not None else None
    return ([f"Everyone starts in {first.name}; each exercise's starting dose is set by the dosing rules "
             f"named here from its kind and the person's stated tolerance ({tolerance or 'not given'})."],
            f.fired.get("dosing", []))


def _fidelity(f: _Facts) -> Filled:
    r = f.rec.ruleset
    return [f"Rule pack {r.name} {r.version} ({r.digest[:19]}); {len(f.rec.trace)} rules fired; "
            f"{len(f.rec.overrides)} clinician overrides recorded."], []


def _delivered(f: _Facts) -> Filled:
    done, planned, _ = f.adherence()
    if not planned:
        return ["Not known yet: no feedback round recorded sessions done against planned. Report it from "
                "the stored record when the program ends."], []
    return [f"Sessions done {done} of {planned} planned ({round(100 * done / planned)}%) over "
            f"{len(f.rec.adjustments)} rounds."], []


def _fixed(f: _Facts) -> Filled:
    del f
    return [], []


FILLERS: dict[str, Callable[[_Facts], Filled]] = {
    "fixed": _fixed, "equipment": _equipment, "delivery": _delivery, "supervision": _supervision,
    "adherence_measure": _adherence_measure, "motivation": _motivation,
    "progression_rule": _progression_rule, "progression_done": _progression_done,
    "exercises": _exercises, "home": _home, "non_exercise": _non_exercise,
    "adverse_events": _adverse_events, "setting": _setting, "dose": _dose, "tailored": _tailored,
    "tailoring": _tailoring, "starting_level": _starting_level, "fidelity": _fidelity,
    "delivered": _delivered,
}
#: Fillers that need a program; without one the item says that a referral replaced it.
_NEED_PROGRAM = set(FILLERS) - {"fixed", "adherence_measure", "fidelity", "adverse_events"}


def cert_report(rec: Recommendation, *, rules: RuleSet | None = None) -> dict[str, Any]:
    """The CERT items of ``rec`` as JSON data: ``{"standard", "sources", "ruleset", "outcome",
    "items": [{"number", "domain", "title", "text": [...], "rule_ids", "clinic"}]}``.

    Raises `backrx.RuleError` naming cert.yaml when the pack's CERT file is missing or
    malformed."""
    from backrx.ruleset import default_rules

    pack = (rules or default_rules()).pack
    items, sources = _items(pack.path, pack.digest)
    facts = _Facts(rec, pack)
    out = []
    for item in items:
        filler = FILLERS[item.fill]
        lines, rule_ids = _no_program(facts) if rec.program is None and item.fill in _NEED_PROGRAM \
            else filler(facts)
        text = ([item.backrx] if item.backrx else []) + lines
        if not text:  # never empty: what backrx cannot know is the clinic's to state
            text = ["backrx cannot know this."]
        out.append({"number": item.number, "domain": item.domain, "title": item.title, "text": text,
                    "rule_ids": list(dict.fromkeys(rule_ids)), "clinic": item.clinic or None})
    r = rec.ruleset
    return {"standard": "CERT (Consensus on Exercise Reporting Template)", "sources": list(sources),
            "ruleset": {"name": r.name, "version": r.version, "digest": r.digest},
            "outcome": rec.outcome, "items": out}


def cert_markdown(rec: Recommendation, *, rules: RuleSet | None = None) -> str:
    """The CERT report of ``rec`` as Markdown, one section per item, ready to paste into a protocol."""
    from backrx.render import md_escape as _md

    data = cert_report(rec, rules=rules)
    r = data["ruleset"]
    out = [f"# {_md(data['standard'])}", "",
           _md(f"Filled by backrx from rule pack {r['name']} {r['version']} ({r['digest'][:19]}) and one "
               f"recommendation (outcome: {data['outcome']}). Sources: {', '.join(data['sources'])}."), ""]
    for item in data["items"]:
        out += [f"## {_md(item['number'])}. {_md(item['title'])} ({_md(item['domain'])})", ""]
        out += [f"- {_md(line)}" for line in item["text"]]
        if item["rule_ids"]:
            out.append(f"- Set by: {_md(', '.join(item['rule_ids']))}")
        if item["clinic"]:
            out.append(f"- **For the clinic to fill in:** {_md(item['clinic'])}")
        out.append("")
    return "\n".join(out)
