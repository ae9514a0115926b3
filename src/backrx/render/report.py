"""Plain-text explanations and Markdown handouts of a Recommendation.

Every word these reports add comes from a pack's ``text.yaml`` (the ``report.*`` keys), in the
recommendation's own language (``Recommendation.locale``, translated by the pack's ``locales/``);
the texts the Recommendation carries (names, reasons, rationales, advice) are shown as they are.
Python only lays the lines out.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from backrx.errors import Problem, RuleError
from backrx.model.recommendation import (
    CriterionStatus,
    Dose,
    Firing,
    MeasureChange,
    Phase,
    PhaseStatus,
    Prescription,
    Progress,
    Recommendation,
    Referral,
)
from backrx.model.untrusted import is_link
from backrx.model.vocabulary import URGENCIES
from backrx.pack.locale import read_locales
from backrx.pack.read import bundled_path
from backrx.pack.texts import Texts, bundled_texts
from backrx.render.context import blocks, pack_texts, texts_in
from backrx.render.education import education_heading, education_lines, education_markdown

if TYPE_CHECKING:
    from backrx.ruleset import RuleSet


def report_texts(rec: Recommendation, rules: RuleSet | None = None) -> Texts:
    """The words of the reports of ``rec``: the pack's (default: the bundled pack's), in ``rec.locale``."""
    return pack_texts(rules.pack, rec.locale) if rules is not None else bundled_report_texts(rec.locale)


@functools.lru_cache(maxsize=8)
def bundled_report_texts(locale: str) -> Texts:
    """The bundled pack's report words in ``locale``, read once per language from its text.yaml and
    locale files only (``rec.explain()`` needs no catalog or rules)."""
    problems: list[Problem] = []
    translated = read_locales(bundled_path(), problems).get(locale, {})
    if problems:  # pragma: no cover - the bundled pack is checked by its tests
        raise RuleError(problems)
    return texts_in(bundled_texts(), translated)


def _header(referral: Referral, t: Texts) -> str:
    """The tier's wording from the pack (urgency.yaml); a pack without it shows the tier's name."""
    return referral.header or t("report.referral.tier", tier=referral.urgency.upper())


def _words(value: str) -> str:
    return value.replace("_", " ")


def _evidence(firing: Firing, t: Texts) -> str:
    return firing.evidence.describe() if firing.evidence is not None else t("report.evidence.none")


def _plural(n: int, one: str, many: str) -> str:
    """``one`` when ``n`` is 1, else ``many`` (each a text with its count filled in)."""
    return one if n == 1 else many


def dose_text(dose: Dose, t: Texts) -> str:
    """A dose in the report's words, e.g. "2 sets x 10 reps, 3 times a week"."""
    parts: list[str] = []
    if dose.sets and dose.reps:
        parts.append(t("report.dose.set_reps", reps=dose.reps) if dose.sets == 1 else
                     t("report.dose.sets_reps", sets=dose.sets, reps=dose.reps))
    elif dose.reps:
        parts.append(t("report.dose.reps", reps=dose.reps))
    elif dose.sets:
        parts.append(t("report.dose.sets", sets=dose.sets))
    if dose.hold_seconds:
        parts.append(t("report.dose.hold", seconds=dose.hold_seconds))
    if dose.minutes:
        n = dose.minutes
        parts.append(_plural(n, t("report.dose.minutes.one", n=n), t("report.dose.minutes.many", n=n)))
    if dose.times_per_day:
        n = dose.times_per_day
        parts.append(_plural(n, t("report.dose.per_day.one", n=n), t("report.dose.per_day.many", n=n)))
    if dose.sessions_per_week:
        n = dose.sessions_per_week
        parts.append(t("report.dose.daily") if n >= 7 else
                     _plural(n, t("report.dose.per_week.one", n=n), t("report.dose.per_week.many", n=n)))
    return t("report.dose.separator").join(parts) if parts else t("report.dose.as_advised")


def _dose(p: Prescription, t: Texts) -> str:
    text = dose_text(p.dose, t)
    sided = p.exercise.per_side and p.exercise.category != "education"
    return t("report.dose.each_side", dose=text) if sided else text


def _minutes(value: float) -> str:
    return f"{value:.0f}" if value >= 1 else "<1"


def _week_rows(phase: Phase, t: Texts) -> list[tuple[int, str, str]]:
    """Day, minutes and what to do, for each day of the phase's typical week."""
    names = {p.exercise.id: t("report.week.through_the_day", name=p.exercise.name, n=p.dose.times_per_day)
             if p.dose.times_per_day else p.exercise.name for p in phase.prescriptions}
    rows = []
    for day in phase.week:
        if day.prescriptions:
            what = ", ".join(names.get(e, e) for e in day.prescriptions)
            rows.append((day.day, _minutes(day.minutes), what))
        else:
            rows.append((day.day, "-", t("report.week.rest")))
    return rows


def _classification(rec: Recommendation, t: Texts) -> str:
    c = rec.classification
    risk = t(f"report.risk.{c.startback_risk}") if c.startback_risk else t("report.risk.unknown")
    screen = rec.profile.startback if rec.profile is not None else None
    if c.startback_risk and screen is not None and screen.complete:
        risk = t("report.risk.scores", risk=risk, total=screen.total, psychosocial=screen.psychosocial)
    pathways = ", ".join(_words(p) for p in c.pathways) or t("report.pathways.none")
    return t("report.classification", stage=t(f"report.stage.{c.stage}"), pathways=pathways, risk=risk)


def _phase_lines(rec: Recommendation, phase: Phase, t: Texts) -> list[str]:
    """One phase of the plain-text account: its exercises, its week and when to move on."""
    evidence = {f.rule_id: f for f in rec.trace}
    by_override = {(o.phase, o.after.exercise.id, o.after.dose): o.number
                   for o in rec.overrides if o.after is not None}
    lines = ["", t("report.phase", name=phase.name, start=phase.start_week, end=phase.end_week,
                   goal=phase.goal)]
    for p in phase.prescriptions:
        mark = by_override.get((phase.id, p.exercise.id, p.dose))
        about = ""
        if p.minutes:
            minutes = _minutes(p.minutes)
            about = " (" + (t("report.prescription.minutes_a_day", minutes=minutes) if p.dose.times_per_day
                            else t("report.prescription.minutes_each_time", minutes=minutes)) + ")"
        flag = f" [{t('report.prescription.override', n=mark)}]" if mark else ""
        lines.append(f"  * {p.exercise.name}: {_dose(p, t)}{about}{flag}")
        lines.append("      " + t("report.prescription.why", rationale=p.rationale))
        lines.append("      " + t("report.prescription.rules", rules=", ".join(p.rule_ids),
                                  sources=", ".join(p.sources)))
        lead = evidence.get(p.rule_ids[0]) if p.rule_ids else None
        if lead is not None:
            lines.append("      " + t("report.prescription.evidence", evidence=_evidence(lead, t)))
    if phase.week:
        lines.append("  " + t("report.week.heading", minutes=_minutes(phase.minutes_per_week)))
        lines.append(f"    {t('report.week.day'):<4} {t('report.week.minutes'):<8} {t('report.week.what')}")
        lines.extend(f"    {d:<4} {m:<8} {what}" for d, m, what in _week_rows(phase, t))
    if phase.progress_when:
        criteria = "; ".join(phase.progress_when)
        lines.append("  " + (t("report.move_on.after", days=phase.min_days, criteria=criteria)
                             if phase.min_days else t("report.move_on", criteria=criteria)))
    return lines


def _adjustment_lines(rec: Recommendation, t: Texts) -> list[str]:
    lines = ["", t("report.heading.adjustments")]
    for round_ in rec.adjustments:
        date = round_.feedback.date
        lines.append("  " + (t("report.round.dated", n=round_.round, date=date.isoformat(),
                                before=round_.phase_before, after=round_.phase_after) if date else
                             t("report.round", n=round_.round, before=round_.phase_before,
                               after=round_.phase_after)))
        for change in round_.changes:
            name = ", ".join(change.exercise_ids) or change.direction or change.phase
            lines.append(f"    - {change.action} {name}: {round_.reason_of(change)}")
        if not round_.changes:
            lines.append("    - " + t("report.round.no_change"))
    return lines


def _donotdo(rec: Recommendation, rules: RuleSet | None) -> dict[str, Any]:
    """The do-not-do items of ``rec`` from ``rules``' pack (default: the bundled pack)."""
    from backrx.render.donotdo import donotdo_for
    from backrx.ruleset import default_rules

    return donotdo_for((rules or default_rules()).pack, rec)


def _donotdo_lines(rec: Recommendation, rules: RuleSet | None) -> list[str]:
    """The clinician's view: each item's plain sentence, then the guidance line and its sources."""
    found = _donotdo(rec, rules)
    if not found["items"]:
        return []
    out = ["", found["heading"]]
    for item in found["items"]:
        out.append(f"  - {item['text']}")
        out.append(f"    {item['advice']} ({', '.join(item['sources'])})")
    return out


def _donotdo_markdown(rec: Recommendation, rules: RuleSet | None) -> list[str]:
    """The handout's view: the plain sentences, in the person's language."""
    found = _donotdo(rec, rules)
    if not found["items"]:
        return []
    return [f"## {_md(found['heading'])}", "", *(f"- {_md(item['text'])}" for item in found["items"]), ""]


def explain(rec: Recommendation, *, rules: RuleSet | None = None) -> str:
    """The story of the decision: outcome, reasons, program, exclusions, and the rules.

    The words are those of ``rules``' pack (default: the bundled pack), in ``rec.locale``.
    """
    t = report_texts(rec, rules)
    lines: list[str] = [t("report.outcome.refer") if rec.outcome == "refer" else t("report.outcome.program")]
    if rec.referral is not None:
        lines.append(t("report.referral", header=_header(rec.referral, t)))
        lines.extend(f"  - {reason}" for reason in rec.referral.reasons)
    lines.append(_classification(rec, t))
    if rec.warnings:
        lines += ["", t("report.heading.clinician")]
        lines.extend(f"  ! {n.code}: {n.message} ({', '.join(n.rule_ids)})" for n in rec.warnings)
    if rec.rationale:
        lines += ["", t("report.heading.why")]
        lines.extend(f"  - {reason}" for reason in rec.rationale)
    if rec.program is not None:
        for phase in rec.program.phases:
            lines += _phase_lines(rec, phase, t)
        if rec.program.excluded:
            lines += ["", t("report.heading.excluded")]
            for e in rec.program.excluded:
                lines.append(f"  - {e.exercise_name} ({', '.join(e.phases)}): {' '.join(e.reasons)}")
    if rec.adjustments:
        lines += _adjustment_lines(rec, t)
    if rec.overrides:
        from backrx.overrides.override import describe, override_status

        lines += ["", t("report.heading.overrides")]
        for item, undone in override_status(rec):
            gone = f" [{t('report.override.undone', undone=undone)}]" if undone else ""
            lines.append(f"  {describe(item)}{gone}")
    if rec.program is not None and rec.program.elimination is not None:
        mode = rec.program.elimination
        nxt = mode.queue[0].exercise.name if mode.queue else t("report.elimination.last")
        lines.append(t("report.elimination", testing=mode.testing, next=nxt))
    if rec.progress is not None:
        lines.append("")
        lines.extend(progress_lines(rec.progress, t))
    if rec.warnings:
        lines += ["", t("report.heading.clinician")]
        lines.extend(f"  - [{n.code}] {n.message}" for n in rec.warnings)
    lines += education_lines(rec, education_heading(rec, t))
    lines += _donotdo_lines(rec, rules)
    if rec.safety_net:
        lines += ["", t("report.heading.safety_net")]
        lines.extend(f"  - {item}" for item in rec.safety_net)
    lines += ["", t("report.heading.trace")]
    for f in rec.trace:
        lines.append("  " + t("report.trace.item", rule_id=f.rule_id, title=f.title,
                              evidence=_evidence(f, t)))
    lines.append("")
    lines.append(t("report.ruleset", name=rec.ruleset.name, version=rec.ruleset.version,
                   digest=rec.ruleset.digest[:19]))
    lines.append(rec.disclaimer)
    return "\n".join(lines)


# Everything in a handout that comes from the pack or the input is untrusted text: it is put on
# one line (so it cannot start a heading, a list, a quote or a table row; `.`, `-`, `+` and `>`
# mean something only at the start of a line), HTML's special characters become entities, and
# every character that is markup anywhere in a line (emphasis, code, links, tables) is escaped.
# The report's own words come from the pack too, so they are escaped like the rest.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#!|~])")


def _md(text: str) -> str:
    """``text`` as literal Markdown text: no markup, no HTML, no line breaks."""
    line = " ".join(str(text).split())
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", line)


def _link(url: str) -> str:
    """A web address (https:, http:, mailto:) as a Markdown autolink; anything else as escaped text."""
    return f"<{url}>" if is_link(url) else _md(url)


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _phase_markdown(rec: Recommendation, phase: Phase, t: Texts) -> list[str]:
    """One phase of the handout: goal, exercises, week, how to do them, when to move on."""
    assert rec.program is not None
    current = phase.id == rec.program.current_phase and bool(rec.adjustments)
    heading = t("report.md.phase.current" if current else "report.md.phase", name=phase.name,
                start=phase.start_week, end=phase.end_week)
    out = [f"## {_md(heading)}", "", f"**{_md(t('report.md.goal'))}** {_md(phase.goal)}", ""]
    out += [_row(_md(t("report.md.column.exercise")), _md(t("report.md.column.dose")),
                 _md(t("report.md.column.why"))), "|---|---|---|"]
    out += [_row(_md(p.exercise.name), _md(_dose(p, t)), _md(p.rationale)) for p in phase.prescriptions]
    out.append("")
    if phase.week:
        about = t("report.md.week.minutes", minutes=_minutes(phase.minutes_per_week))
        out += [f"**{_md(t('report.md.week'))}** {_md(about)}", "",
                _row(_md(t("report.week.day")), _md(t("report.week.minutes")), _md(t("report.week.what"))),
                "|---|---|---|"]
        out += [_row(str(d), m, _md(what)) for d, m, what in _week_rows(phase, t)]
        out.append("")
    out += [f"**{_md(t('report.md.how'))}**", ""]
    out += [f"- **{_md(p.exercise.name)}.** {_md(p.exercise.instructions)}" for p in phase.prescriptions]
    out.append("")
    if phase.progress_when:
        when = t("report.md.move_on.after", days=phase.min_days) if phase.min_days else t("report.md.move_on")
        out += [f"**{_md(when)}**", ""]
        out += [f"- {_md(item)}" for item in phase.progress_when]
        out.append("")
    return out


def handout(rec: Recommendation, *, rules: RuleSet | None = None) -> str:
    """A Markdown handout the person can follow, in the words of ``rules``' pack and ``rec.locale``."""
    t = report_texts(rec, rules)
    # The tier decides: a referral of a tier that replaces exercise shows no program, whatever the
    # record's outcome says; the locale only supplies the words.
    blocked = blocks(rec, rules.pack.blocking_urgencies if rules is not None else URGENCIES[:-1])
    referred = blocked and rec.referral is not None
    title = (rec.referral.title if rec.referral is not None else None) or t("report.md.title.referral")
    out: list[str] = [f"# {_md(title if referred else t('report.md.title.program'))}", ""]
    if blocked:
        if rec.referral is not None:
            out += [f"**{_md(t('report.md.referral', header=_header(rec.referral, t)))}**", ""]
            out += [f"- {_md(reason)}" for reason in rec.referral.reasons]
        out += ["", _md(t("report.md.no_exercise")), ""]
    elif rec.program is not None:
        if rec.referral is not None:
            out += [f"## {_md(t('report.md.heading.referral'))}", "",
                    _md(t("report.md.referral", header=_header(rec.referral, t))), ""]
            out += [f"- {_md(reason)}" for reason in rec.referral.reasons]
            out.append("")
        out += [f"## {_md(t('report.md.heading.why'))}", ""]
        out += [f"- {_md(reason)}" for reason in rec.rationale]
        out.append("")
        if rec.progress is not None:
            out += progress_markdown(rec.progress, t)
        if rec.program.elimination is not None:
            mode = rec.program.elimination
            text = t("report.md.elimination", testing=mode.testing or "")
            if mode.queue:
                text += " " + t("report.md.elimination.next", name=mode.queue[0].exercise.name)
            out += [f"## {_md(t('report.md.heading.elimination'))}", "", _md(text), ""]
        for phase in rec.program.phases:
            out += _phase_markdown(rec, phase, t)
        if rec.program.excluded:
            out += [f"## {_md(t('report.md.heading.excluded'))}", ""]
            out += [f"- **{_md(e.exercise_name)}**: {_md(' '.join(e.reasons))}" for e in rec.program.excluded]
            out.append("")
        out += education_markdown(rec, education_heading(rec, t), _md)
        out += _donotdo_markdown(rec, rules)
    if rec.safety_net:
        out += [f"## {_md(t('report.md.heading.safety_net'))}", ""]
        out += [f"- {_md(item)}" for item in rec.safety_net]
        out.append("")
    out += [f"## {_md(t('report.md.heading.references'))}", ""]
    out += [f"- \\[{_md(ref.id)}\\] {_md(ref.citation)}" + (f" {_link(ref.url)}" if ref.url else "")
            for ref in rec.references]
    out += ["", "---", "", f"*{_md(rec.disclaimer)}*", ""]
    return "\n".join(out)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def _verdict(m: MeasureChange, t: Texts) -> str:
    if m.mcid is None:
        return t("report.progress.no_mcid")
    if m.improved:
        return t("report.progress.improved", mcid=_number(m.mcid))
    if m.worsened:
        return t("report.progress.worsened", mcid=_number(m.mcid))
    if m.latest is None:
        return t("report.progress.not_measured")
    return t("report.progress.not_yet_needs", mcid=_number(m.mcid))


def _state(status: PhaseStatus, criterion: CriterionStatus, t: Texts) -> str:
    if status.quota and not criterion.quota:
        return t("report.progress.not_used")
    return t("report.progress.met") if criterion.met else t("report.progress.not_yet")


def _phase_words(status: PhaseStatus, t: Texts) -> str:
    days = t("report.progress.undated") if status.days is None else t("report.progress.day", n=status.days)
    text = t("report.progress.phase", phase=status.phase, days=days, min_days=status.min_days)
    if status.days_left:
        n = status.days_left
        text += ", " + _plural(n, t("report.progress.days_left.one", n=n),
                               t("report.progress.days_left.many", n=n))
    if status.quota:
        text += "; " + t("report.progress.quota")
    if status.holding:
        text += "; " + t("report.progress.holding")
    return text


def progress_lines(progress: Progress, t: Texts | None = None) -> list[str]:
    """The progress summary as plain text: the phase gate and the outcome measures.

    ``t`` holds the words (default: the bundled pack's English).
    """
    t = t or Texts()
    when = progress.date.isoformat() if progress.date else t("report.progress.undated_round")
    lines = [t("report.progress.heading.week", date=when, week=progress.weeks + 1)
             if progress.weeks is not None else t("report.progress.heading", date=when)]
    if progress.phase is not None:
        lines.append("  " + t("report.progress.gate", phase=_phase_words(progress.phase, t)))
        for c in progress.phase.criteria:
            lines.append(f"    [{_state(progress.phase, c, t)}] {c.text}")
    if progress.measures:
        lines.append("  " + t("report.progress.measures"))
        for m in progress.measures:
            pct = f" ({m.percent:+g}%)" if m.percent is not None else ""
            change = f"{m.change:+g}" if m.change is not None else "-"
            lines.append(f"    {m.name}: {_number(m.baseline)} -> {_number(m.latest)}, {change}{pct}; "
                         f"{_verdict(m, t)}")
    else:
        lines.append("  " + t("report.progress.no_measures"))
    return lines


def progress_markdown(progress: Progress, t: Texts | None = None) -> list[str]:
    """The progress summary for the handout (``t``: the words, default the bundled pack's English)."""
    t = t or Texts()
    out = [f"## {_md(t('report.md.progress.heading'))}", ""]
    if progress.phase is not None:
        out += [f"**{_md(t('report.md.progress.where'))}** {_md(_phase_words(progress.phase, t))}.", ""]
        if progress.phase.criteria:
            out += [_row(_md(t("report.md.progress.criterion")), _md(t("report.md.progress.now"))),
                    "|---|---|"]
            out += [_row(_md(c.text), _md(_state(progress.phase, c, t))) for c in progress.phase.criteria]
            out.append("")
    if progress.measures:
        columns = (t("report.md.progress.measure"), t("report.md.progress.baseline"),
                   t("report.md.progress.latest"), t("report.md.progress.change"),
                   t("report.md.progress.meaningful"))
        out += [_row(*(_md(c) for c in columns)), "|---|---|---|---|---|"]
        for m in progress.measures:
            change = f"{m.change:+g}" if m.change is not None else "-"
            out.append(_row(_md(m.name), _number(m.baseline), _number(m.latest), change, _md(_verdict(m, t))))
        out.append("")
    else:
        out += [_md(t("report.md.progress.no_measures")), ""]
    return out
