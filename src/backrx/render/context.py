"""What a report shows, per audience, as plain data for the templates.

Every word a patient reads comes from the Recommendation (the pack's texts, carried through)
or from the pack's ``text.yaml`` via `backrx.pack.texts.Texts`; doses are worded by
`backrx.model.words` (``dose_words`` is re-exported here for the templates' callers); nothing
here is prose.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Collection, Mapping
from typing import Any

from markupsafe import Markup

from backrx.model.feedback import ExerciseResponse, Feedback
from backrx.model.recommendation import Dose, Exclusion, Phase, Prescription, Program, Recommendation
from backrx.model.untrusted import is_link
from backrx.model.vocabulary import URGENCIES
from backrx.model.words import dose_words as dose_words
from backrx.pack.model import CatalogEntry, Pack
from backrx.pack.parts import media_ok
from backrx.pack.planspec import PlannerSpec
from backrx.pack.texts import Texts
from backrx.render.education import education_context, education_heading

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_IMAGE = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
_VIDEO = (".mp4", ".webm", ".ogv", ".mov")
_VIDEO_HOSTS = ("youtube.com", "youtu.be", "vimeo.com")
_SHORT_STEPS = 240  # characters of three steps on one exercise card of the patient handout


def texts_in(texts: Mapping[str, str], translated: Mapping[str, str]) -> Texts:
    """Report words: a pack's ``text.yaml`` texts, with those a flattened locale file translates
    (its ``text.*`` keys) put in their place; the rest stay in the pack's language."""
    own = dict(texts)
    own.update({k.removeprefix("text."): v for k, v in translated.items() if k.startswith("text.")})
    return Texts(own)


def pack_texts(pack: Pack, locale: str) -> Texts:
    """The report words of ``pack`` in ``locale`` (English where the pack has no such locale)."""
    return texts_in(pack.texts, pack.locales.get(locale, {}))


def steps(instructions: str) -> list[str]:
    """The how-to text split into steps, one sentence each."""
    return [s.strip() for s in _SENTENCE.split(instructions) if s.strip()]


def media_items(urls: list[str]) -> list[dict[str, str]]:
    """Each media URL with its kind: ``image``, ``video`` or ``link``."""
    out = []
    for url in urls:
        if not media_ok(url):  # a stored record's media is shown only when the loader would take it
            continue
        path = url.split("?", 1)[0].lower()
        kind = ("image" if path.endswith(_IMAGE) else
                "video" if path.endswith(_VIDEO) or any(h in path for h in _VIDEO_HOSTS) else "link")
        out.append({"url": url, "kind": kind})
    return out


def log_columns(t: Texts) -> list[dict[str, str]]:
    """The next-day log's columns: exactly the fields of one feedback response, in model order."""
    return [{"field": name, "label": _field_label(t, "log", name), "hint": _hint(t, name)}
            for name in ExerciseResponse.model_fields]


def log_extras(t: Texts) -> list[dict[str, str]]:
    """The other feedback fields (asked once per round, below the table)."""
    return [{"field": name, "label": _field_label(t, "log", name)}
            for name in Feedback.model_fields if name != "responses"]


def _field_label(t: Texts, prefix: str, name: str) -> str:
    return t.get(f"{prefix}.{name}") or name.replace("_", " ").capitalize()


def _hint(t: Texts, name: str) -> str:
    return t.get(f"log.{name}.hint") or ""


def _timeline(phases: list[dict[str, Any]], t: Texts) -> dict[str, Any]:
    """Geometry of the vertical phase timeline (inline SVG): one row per phase with its criteria."""
    rows = []
    y = 12
    for phase in phases:
        criteria = [textwrap.wrap(c, 78) for c in phase["progress_when"]]
        lines = sum(len(c) for c in criteria)
        height = 44 + 18 * lines + (18 if criteria else 0)
        rows.append({"y": y, "height": height, "phase": phase, "criteria": criteria})
        y += height
    return {"rows": rows, "height": y + 4, "width": 640}


def _patient_texts(rec: Recommendation) -> dict[str, str]:
    texts = {f.rule_id: f.patient for f in rec.trace if f.patient}
    for round_ in rec.adjustments:
        texts.update({f.rule_id: f.patient for f in round_.trace if f.patient})
    return texts


def _prescription(p: Prescription, view: str, t: Texts, plain: dict[str, str]) -> dict[str, Any]:
    why = plain.get(p.rule_ids[0], "") if view == "patient" and p.rule_ids else p.rationale
    education = p.exercise.category == "education" and p.dose == Dose()
    return {
        "id": p.exercise.id, "name": p.exercise.name, "category": p.exercise.category,
        "dose": "" if education else dose_words(p.dose, t),
        "steps": steps(p.exercise.instructions), "why": why, "rule_ids": p.rule_ids,
        "sources": p.sources, "media": media_items(list(getattr(p.exercise, "media", []))),
        "minutes": getattr(p, "minutes", None),
    }


#: An exercise id to its figure (an SVG string drawn by backrx from the pack), or None (advice).
FigureOf = Callable[[str], str | None]


def _patient_steps(p: Prescription, t: Texts, mobility: str) -> list[str]:
    """Two or three steps for the patient: the pack's words for this mobility where it has them
    (``steps.<id, - as _>.<mobility>``, e.g. walking with a stick), else the first sentences of the how-to."""
    own = t.get(f"steps.{p.exercise.id.replace('-', '_')}.{mobility}")
    all_steps = steps(own if own else p.exercise.instructions)
    # a third step only while the card stays short (the handout has to fit on a few pages)
    return all_steps[:3] if sum(len(s) for s in all_steps[:3]) <= _SHORT_STEPS else all_steps[:2]


def _handout_item(p: Prescription, t: Texts, figure_of: FigureOf | None, mobility: str) -> dict[str, Any]:
    """What the patient handout shows of one prescription: its plain name and summary, its figure
    (None for advice), and two or three steps."""
    eid = p.exercise.id
    advice = p.exercise.category == "education"
    drawn = figure_of(eid) if figure_of is not None and not advice else None
    return {"plain_name": t.get(f"plain.{eid}.name") or p.exercise.name,
            "summary": t.get(f"plain.{eid}.summary") or "",
            # backrx draws the SVG itself from the pack's pose numbers and escapes every word in it
            "figure": Markup(drawn) if drawn else None,
            "advice": advice, "steps": _patient_steps(p, t, mobility)}


def _plan(phases: list[dict[str, Any]], current: str) -> dict[str, Any] | None:
    """The patient's next two weeks: the current phase in full, the later phases as a short "what
    comes next" (earlier phases, already done, are left out)."""
    if not phases:
        return None
    ids = [ph["id"] for ph in phases]
    at = ids.index(current) if current in ids else 0
    now = phases[at]
    return {"now": now, "later": phases[at + 1:],
            "exercises": [p for p in now["prescriptions"] if not p["advice"]],
            "advice": [p for p in now["prescriptions"] if p["advice"]]}


_FEW = 4  # a reason that leaves out at most this many exercises names them on the handout


def _left_out(excluded: list[dict[str, Any]], t: Texts) -> list[dict[str, Any]]:
    """The patient's "left out" list, one line per reason: a reason that covers a handful of
    exercises names them (by their plain names); a broad one (all floor work, say) speaks for itself."""
    groups: dict[str, list[str]] = {}
    for e in excluded:
        name = t.get(f"plain.{e['id']}.name") or e["name"]
        groups.setdefault(" ".join(e["reasons"]), []).append(name)
    return [{"reason": reason, "names": names if len(names) <= _FEW else []}
            for reason, names in groups.items()]


def _week(phase: Phase, names: dict[str, str], t: Texts) -> list[dict[str, Any]] | None:
    days = getattr(phase, "week", None)
    if not days:
        return None
    out: list[dict[str, Any]] = []
    for day in days:
        ids = list(getattr(day, "prescriptions", []))
        minutes = getattr(day, "minutes", None)
        out.append({"label": t("week.day", n=getattr(day, "day", len(out) + 1)),
                    "exercises": [names.get(i, i) for i in ids],
                    "minutes": round(minutes) if isinstance(minutes, (int, float)) and ids else None})
    return out


def _could_do(rec: Recommendation, catalog: Mapping[str, CatalogEntry],
              planner: PlannerSpec | None) -> Callable[[str], bool]:
    """Whether the person has the equipment and a place for an exercise (unknown: assume yes)."""
    if rec.profile is None:
        return lambda _eid: True
    prefs = rec.profile.resolved_preferences
    settings = set(prefs.settings)
    # what a setting provides (a gym's equipment) is the pack's planner.yaml choosing.setting_equipment
    choosing = planner.choosing if planner else None
    equipment = choosing.equipment(settings, prefs.equipment) if choosing else set(prefs.equipment)

    def could(eid: str) -> bool:
        entry = catalog.get(eid)
        return entry is None or (set(entry.equipment) <= equipment and bool(settings & set(entry.settings)))

    return could


def _excluded(items: list[Exclusion], view: str, t: Texts, plain: dict[str, str],
              phase_names: dict[str, str], could_do: Callable[[str], bool]) -> list[dict[str, Any]]:
    out = []
    for e in items:
        phases = [phase_names.get(p, p) for p in e.phases]
        if view == "clinician":
            out.append({"name": e.exercise_name, "id": e.exercise_id, "phases": phases,
                        "reasons": e.reasons, "rule_ids": e.rule_ids,
                        "codes": list(getattr(e, "codes", []))})
            continue
        # Equipment and places the person never had are not news to them: clinician-only.
        if not e.rule_ids or not could_do(e.exercise_id):
            continue
        reasons = list(dict.fromkeys(plain[r] for r in e.rule_ids if r in plain))
        out.append({"name": e.exercise_name, "id": e.exercise_id, "phases": phases,
                    "reasons": reasons or [t("excluded.default")], "rule_ids": [], "codes": []})
    return out


def _overrides(rec: Recommendation) -> list[dict[str, str]]:
    """The clinician overrides in words, each with what later undid it (if anything)."""
    from backrx.overrides.override import describe, override_status

    return [{"text": describe(item), "undone": f"no longer in effect: {undone}" if undone else ""}
            for item, undone in override_status(rec)]


def _progress(rec: Recommendation, t: Texts, phase_names: dict[str, str]) -> dict[str, Any] | None:
    """The progress summary of an adjusted plan: the phase gate and the outcome measures."""
    progress = rec.progress
    if progress is None:
        return None
    phase = progress.phase
    gate = None
    if phase is not None:
        gate = {"phase": phase_names.get(phase.phase, phase.phase), "days": phase.days,
                "min_days": phase.min_days,
                "days_left": phase.days_left, "quota": phase.quota, "holding": phase.holding,
                "criteria": [{"text": c.text,
                              "state": t("progress.not_used") if phase.quota and not c.quota else
                              t("progress.met") if c.met else t("progress.not_yet")}
                             for c in phase.criteria]}

    def number(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"

    measures = []
    for m in progress.measures:
        if m.mcid is None:
            verdict = t("progress.no_mcid")
        elif m.improved:
            verdict = t("progress.improved")
        elif m.worsened:
            verdict = t("progress.worsened")
        elif m.latest is None:
            verdict = t("progress.not_measured")
        else:
            verdict = t("progress.not_yet")
        measures.append({"name": m.name, "baseline": number(m.baseline), "latest": number(m.latest),
                         "change": f"{m.change:+g}" if m.change is not None else "-", "verdict": verdict})
    return {"date": progress.date.isoformat() if progress.date else "", "gate": gate, "measures": measures}


def blocks(rec: Recommendation, blocking_urgencies: Collection[str] = URGENCIES[:-1]) -> bool:
    """Whether the report is a referral with no program: the outcome says so, or the referral's
    tier is one that replaces the program (``blocks_exercise`` in the pack's urgency.yaml).

    The tier decides, whatever else the record holds, so a record whose outcome was edited to
    "program" under an emergency referral still renders as a referral.
    """
    return rec.outcome == "refer" or (rec.referral is not None and rec.referral.urgency in blocking_urgencies)


def build_context(rec: Recommendation, view: str, t: Texts,
                  catalog: Mapping[str, CatalogEntry] | None = None,
                  planner: PlannerSpec | None = None,
                  blocking_urgencies: Collection[str] = URGENCIES[:-1],
                  figure_of: FigureOf | None = None) -> dict[str, Any]:
    """Everything a template shows for ``view`` ("patient" or "clinician").

    ``figure_of`` draws an exercise's figure for the patient view (None: no figures).

    ``catalog`` (the pack's exercises) tells which left-out exercises the person could have done
    at all; the patient view lists only those. ``blocking_urgencies`` are the pack's tiers whose
    referral replaces the program: such a referral renders the referral block and no program.
    """
    plain = _patient_texts(rec)
    patient = view == "patient"
    c = rec.classification
    blocking = blocks(rec, blocking_urgencies)
    referral = _referral(rec, t, blocking, patient)
    if patient:
        why = [] if blocking else list(dict.fromkeys(
            plain[f.rule_id] for f in rec.trace if f.layer in ("triage", "classification")
            and f.rule_id in plain))
    else:
        why = list(rec.rationale)
    # The patient reads stage and risk in the rules' own patient texts (under "why").
    basis = None if patient else {
        "stage": t(f"stage.{c.stage}.clinician"),
        "risk": t(f"risk.{c.startback_risk or 'unknown'}.clinician"),
        "pathways": [t(f"pathway.{p}") for p in c.pathways],  # each by its display name
    }
    program = rec.program if not blocking else None  # a blocking tier shows no program at all
    phases, excluded, elimination, names = _program_parts(rec, program, view, t, plain, catalog, planner,
                                                          figure_of)
    rounds = _rounds(rec, t, plain, patient, names, phases)
    warnings = [{"code": w.code, "message": w.message, "rule_ids": list(w.rule_ids)}
                for w in getattr(rec, "warnings", [])] if not patient else []
    return {
        "view": view,
        "lang": t("meta.lang"),
        "title": t("title.referral") if blocking else t("title.program"),
        "blocking": blocking,
        "referral": referral,
        "why": why,
        "basis": basis,
        "phases": phases,
        "plan": _plan(phases, program.current_phase) if patient and program is not None else None,
        "timeline": _timeline(phases, t),
        "excluded": excluded,
        "left_out": _left_out(excluded, t) if patient else [],
        "elimination": elimination,
        "rounds": rounds,
        "progress": _progress(rec, t, {p["id"]: p["name"] for p in phases}),
        "safety_net": rec.safety_net,
        "education": education_context(rec, education_heading(rec, t), patient) if not blocking else None,
        "references": [{"id": r.id, "citation": r.citation, "year": r.year,
                        "url": r.url if is_link(r.url) else None}
                       for r in rec.references] if not patient else [],
        "trace": [{"rule_id": f.rule_id, "title": f.title,
                   "matched": ", ".join(f"{k}={v}" for k, v in f.matched.items()),
                   "evidence": f.evidence.describe() if f.evidence is not None else ""}
                  for f in rec.trace] if not patient else [],
        "warnings": warnings,
        "overrides": _overrides(rec) if not patient else [],
        "log_columns": log_columns(t),
        "log_extras": log_extras(t),
        "disclaimer": t("disclaimer.patient") if patient else rec.disclaimer,
        "ruleset": {"name": rec.ruleset.name, "version": rec.ruleset.version,
                    "digest": rec.ruleset.digest},
    }


def _referral(rec: Recommendation, t: Texts, blocking: bool, patient: bool) -> dict[str, Any] | None:
    """The referral block: the tier's heading and advice, the reasons and the rules behind them."""
    if rec.referral is None:
        return None
    u = rec.referral.urgency
    return {"urgency": u, "heading": t(f"urgency.{u}.heading"), "advice": t(f"urgency.{u}.advice"),
            "reasons": rec.referral.reasons, "rule_ids": rec.referral.rule_ids,
            "blocking": blocking,
            # how to stay active while waiting: only a tier whose pack text says how
            "while_waiting": (t.get(f"urgency.{u}.while_waiting") or "") if patient else ""}


def _program_parts(rec: Recommendation, program: Program | None, view: str, t: Texts, plain: dict[str, str],
                   catalog: Mapping[str, CatalogEntry] | None, planner: PlannerSpec | None,
                   figure_of: FigureOf | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                        dict[str, Any] | None, dict[str, str]]:
    """The program's phases, its left-out exercises, the elimination mode, and the names shown for
    each exercise id (none of them without a program)."""
    patient = view == "patient"
    phases: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    elimination = None
    names: dict[str, str] = {}
    mobility = rec.profile.mobility if rec.profile is not None else "independent"
    if program is None:
        return phases, excluded, elimination, names
    for ph in program.phases:
        names.update({p.exercise.id: (t.get(f"plain.{p.exercise.id}.name") or p.exercise.name)
                      if patient else p.exercise.name for p in ph.prescriptions})
    for mode_p in (program.elimination.queue if program.elimination else []):
        names[mode_p.exercise.id] = mode_p.exercise.name
    phase_names = {ph.id: ph.name for ph in program.phases}
    for ph in program.phases:
        mpw = getattr(ph, "minutes_per_week", None)
        phases.append({
            "id": ph.id, "name": ph.name, "goal": ph.goal, "start_week": ph.start_week,
            "end_week": ph.end_week, "weeks": ph.end_week - ph.start_week + 1,
            "current": ph.id == program.current_phase and bool(rec.adjustments),
            "progress_when": ph.progress_when,
            "prescriptions": [_prescription(p, view, t, plain)
                              | (_handout_item(p, t, figure_of, mobility) if patient else {})
                              for p in ph.prescriptions],
            "week": _week(ph, names, t),
            "minutes_per_week": round(mpw) if isinstance(mpw, (int, float)) and mpw else None,
        })
    excluded = _excluded(program.excluded, view, t, plain, phase_names,
                         _could_do(rec, catalog or {}, planner))
    if program.elimination is not None:
        mode = program.elimination
        elimination = {"testing": names.get(mode.testing or "", mode.testing or ""),
                       "next": mode.queue[0].exercise.name if mode.queue else None}
    return phases, excluded, elimination, names


def _rounds(rec: Recommendation, t: Texts, plain: dict[str, str], patient: bool, names: dict[str, str],
            phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each round of adjustment: its date and its changes, with names, reasons and evidence."""
    rounds = []
    for round_ in rec.adjustments:
        changes = []
        # the clinician sees how strong the evidence behind each change is, as in the trace
        strength = {f.rule_id: f.evidence.describe() for f in round_.trace if f.evidence is not None}
        for ch in round_.changes:
            shown = ch.prescription
            name = shown.exercise.name if shown is not None and ch.action == "reintroduce" else \
                ", ".join(names.get(e, e) for e in ch.exercise_ids)
            if ch.action == "advance":
                name = next((p["name"] for p in phases if p["id"] == ch.phase), ch.phase)
            if ch.action == "stop" and ch.direction:
                name = t(f"direction.{ch.direction}")
            reason = round_.reason_of(ch) if not patient else \
                plain.get(ch.rule_ids[0], "") if ch.rule_ids else ""
            changes.append({"action": t(f"change.{ch.action}"), "code": ch.action, "name": name or "",
                            "reason": reason, "rule_ids": ch.rule_ids,
                            "evidence": "" if patient or not ch.rule_ids
                            else strength.get(ch.rule_ids[0], "")})
        rounds.append({"round": round_.round, "changes": changes,
                       "date": str(getattr(round_.feedback, "date", "") or "")})
    return rounds
