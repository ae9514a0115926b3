"""Plain-text explanations and Markdown handouts of a Recommendation."""

from __future__ import annotations

import re

from backrx.model.recommendation import (
    CriterionStatus,
    Firing,
    MeasureChange,
    Phase,
    PhaseStatus,
    Prescription,
    Progress,
    Recommendation,
    Referral,
)


def _header(referral: Referral) -> str:
    """The tier's wording from the pack (urgency.yaml); a pack without it shows the tier's name."""
    return referral.header or f"{referral.urgency.upper()} referral"


def _words(value: str) -> str:
    return value.replace("_", " ")


def _evidence(firing: Firing) -> str:
    return firing.evidence.describe() if firing.evidence is not None else "not stated"
def _dose(p: Prescription) -> str:
    text = p.dose.describe()
    return f"{text} (each side)" if p.exercise.per_side and p.exercise.category != "education" else text


def _minutes(value: float) -> str:
    return f"{value:.0f}" if value >= 1 else "<1"


def _week_rows(phase: Phase) -> list[tuple[int, str, str]]:
    """Day, minutes and what to do, for each day of the phase's typical week."""
    names = {p.exercise.id: p.exercise.name + (f" ({p.dose.times_per_day} times through the day)"
                                               if p.dose.times_per_day else "")
             for p in phase.prescriptions}
    rows = []
    for day in phase.week:
        if day.prescriptions:
            what = ", ".join(names.get(e, e) for e in day.prescriptions)
            rows.append((day.day, _minutes(day.minutes), what))
        else:
            rows.append((day.day, "-", "rest day (keep up your everyday activity)"))
    return rows


def explain(rec: Recommendation) -> str:
    """The story of the decision: outcome, reasons, program, exclusions, and the rules."""
    lines: list[str] = []
    c = rec.classification
    if rec.outcome == "refer":
        lines.append("Outcome: referral instead of exercise.")
    else:
        lines.append("Outcome: an exercise program.")
    if rec.referral is not None:
        lines.append(f"Referral: {_header(rec.referral)}.")
        lines.extend(f"  - {reason}" for reason in rec.referral.reasons)
    risk: str = c.startback_risk or "not determined (the STarT Back screen is missing or incomplete)"
    screen = rec.profile.startback if rec.profile is not None else None
    if c.startback_risk and screen is not None and screen.complete:
        risk += f" (total {screen.total} of 9, psychosocial subscale {screen.psychosocial} of 5)"
    lines.append(
        f"Stage: {c.stage}. Pathways: {', '.join(_words(p) for p in c.pathways) or 'none'}. "
        f"STarT Back risk: {risk}."
    )
    if rec.warnings:
        lines.append("")
        lines.append("For the clinician:")
        lines.extend(f"  ! {n.code}: {n.message} ({', '.join(n.rule_ids)})" for n in rec.warnings)
    if rec.rationale:
        lines.append("")
        lines.append("Why:")
        lines.extend(f"  - {reason}" for reason in rec.rationale)
    evidence = {f.rule_id: f for f in rec.trace}
    by_override = {(o.phase, o.after.exercise.id, o.after.dose): o.number
                   for o in rec.overrides if o.after is not None}
    if rec.program is not None:
        for phase in rec.program.phases:
            lines.append("")
            lines.append(f"{phase.name} (weeks {phase.start_week}-{phase.end_week}): {phase.goal}")
            for p in phase.prescriptions:
                mark = by_override.get((phase.id, p.exercise.id, p.dose))
                each = "a day" if p.dose.times_per_day else "each time"
                about = f" (about {_minutes(p.minutes)} min {each})" if p.minutes else ""
                lines.append(f"  * {p.exercise.name}: {_dose(p)}{about}"
                             + (f" [override #{mark}]" if mark else ""))
                lines.append(f"      why: {p.rationale}")
                lines.append(f"      rules: {', '.join(p.rule_ids)}; sources: {', '.join(p.sources)}")
                lead = evidence.get(p.rule_ids[0]) if p.rule_ids else None
                if lead is not None:
                    lines.append(f"      evidence: {_evidence(lead)}")
            if phase.week:
                lines.append(f"  A typical week (about {_minutes(phase.minutes_per_week)} minutes):")
                lines.append("    Day  Minutes  What to do")
                lines.extend(f"    {d:<4} {m:<8} {what}" for d, m, what in _week_rows(phase))
            if phase.progress_when:
                after = f"after at least {phase.min_days} days, and " if phase.min_days else ""
                lines.append(f"  Move on {after}when: " + "; ".join(phase.progress_when))
        if rec.program.excluded:
            lines.append("")
            lines.append("Left out:")
            for e in rec.program.excluded:
                lines.append(f"  - {e.exercise_name} ({', '.join(e.phases)}): {' '.join(e.reasons)}")
    if rec.adjustments:
        lines.append("")
        lines.append("Adjustments (test and measure):")
        for round_ in rec.adjustments:
            when = f", {round_.feedback.date.isoformat()}" if round_.feedback.date else ""
            lines.append(f"  Round {round_.round}{when} ({round_.phase_before} -> {round_.phase_after}):")
            for change in round_.changes:
                name = ", ".join(change.exercise_ids) or change.direction or change.phase
                lines.append(f"    - {change.action} {name}: {round_.reason_of(change)}")
            if not round_.changes:
                lines.append("    - no change")
    if rec.overrides:
        from backrx.adjust.override import describe, override_status

        lines.append("")
        lines.append("Clinician overrides (on the record):")
        for item, undone in override_status(rec):
            lines.append(f"  {describe(item)}" + (f" [no longer in effect: {undone}]" if undone else ""))
    if rec.program is not None and rec.program.elimination is not None:
        mode = rec.program.elimination
        nxt = mode.queue[0].exercise.name if mode.queue else "none (the last one)"
        lines.append(f"Elimination mode: testing {mode.testing} on its own; next to come back: {nxt}.")
    if rec.progress is not None:
        lines.append("")
        lines.extend(progress_lines(rec.progress))
    if rec.warnings:
        lines.append("")
        lines.append("For the clinician:")
        lines.extend(f"  - [{n.code}] {n.message}" for n in rec.warnings)
    if rec.safety_net:
        lines.append("")
        lines.append("Stop and seek care if:")
        lines.extend(f"  - {item}" for item in rec.safety_net)
    lines.append("")
    lines.append("Rules that fired, in order (with the evidence behind each):")
    for f in rec.trace:
        lines.append(f"  {f.rule_id}: {f.title} [evidence: {_evidence(f)}]")
    lines.append("")
    lines.append(f"Rule pack: {rec.ruleset.name} {rec.ruleset.version} ({rec.ruleset.digest[:19]})")
    lines.append(rec.disclaimer)
    return "\n".join(lines)


# Everything in a handout that comes from the pack or the input is untrusted text: it is put on
# one line (so it cannot start a heading, a list, a quote or a table row; `.`, `-`, `+` and `>`
# mean something only at the start of a line), HTML's special characters become entities, and
# every character that is markup anywhere in a line (emphasis, code, links, tables) is escaped.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#!|~])")
_URL = re.compile(r"https?://[^\s<>\"'`\\]+")


def _md(text: str) -> str:
    """``text`` as literal Markdown text: no markup, no HTML, no line breaks."""
    line = " ".join(str(text).split())
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", line)


def _link(url: str) -> str:
    """A plain web address as a Markdown autolink; anything else as escaped text."""
    return f"<{url}>" if _URL.fullmatch(url) else _md(url)


def handout(rec: Recommendation) -> str:
    """A Markdown handout the person can follow."""
    referred = rec.outcome == "refer" and rec.referral is not None
    title = (rec.referral.title if rec.referral is not None else None) or "Please seek medical care first"
    out: list[str] = [f"# {_md(title)}" if referred else "# Your back exercise plan", ""]
    if rec.outcome == "refer":
        assert rec.referral is not None
        out += [f"**{_md(_header(rec.referral))}.**", ""]
        out += [f"- {_md(reason)}" for reason in rec.referral.reasons]
        out += ["", "Exercise is not recommended until a clinician has seen you.", ""]
    else:
        assert rec.program is not None
        if rec.referral is not None:
            out += ["## A referral to arrange", "", f"{_md(_header(rec.referral))}.", ""]
            out += [f"- {_md(reason)}" for reason in rec.referral.reasons]
            out.append("")
        out += ["## Why this plan", ""]
        out += [f"- {_md(reason)}" for reason in rec.rationale]
        out.append("")
        if rec.progress is not None:
            out += progress_markdown(rec.progress)
        if rec.program.elimination is not None:
            mode = rec.program.elimination
            nxt = f" Next to come back: {_md(mode.queue[0].exercise.name)}." if mode.queue else ""
            out += ["## Finding what made you worse", "",
                    f"Some exercises are paused. Today, do {_md(mode.testing or '')} on its own with the "
                    f"rest of your plan, and note how you feel tomorrow.{nxt}", ""]
        for phase in rec.program.phases:
            now = " (you are here)" if phase.id == rec.program.current_phase and rec.adjustments else ""
            out += [f"## {_md(phase.name)} (weeks {phase.start_week} to {phase.end_week}){now}", "",
                    f"**Goal:** {_md(phase.goal)}", ""]
            out += ["| Exercise | How much | Why |", "|---|---|---|"]
            for p in phase.prescriptions:
                out.append(f"| {_md(p.exercise.name)} | {_md(_dose(p))} | {_md(p.rationale)} |")
            out.append("")
            if phase.week:
                out += [f"**Your week** (about {_minutes(phase.minutes_per_week)} minutes in all; the "
                        "minutes are estimates)", "", "| Day | Minutes | What to do |", "|---|---|---|"]
                out += [f"| {d} | {m} | {_md(what)} |" for d, m, what in _week_rows(phase)]
                out.append("")
            out.append("**How to do them**")
            out.append("")
            for p in phase.prescriptions:
                out.append(f"- **{_md(p.exercise.name)}.** {_md(p.exercise.instructions)}")
            out.append("")
            if phase.progress_when:
                after = f" (after at least {phase.min_days} days in this phase)" if phase.min_days else ""
                out.append(f"**Move on when{after}:**")
                out.append("")
                out += [f"- {_md(item)}" for item in phase.progress_when]
                out.append("")
        if rec.program.excluded:
            out += ["## Left out for now", ""]
            out += [f"- **{_md(e.exercise_name)}**: {_md(' '.join(e.reasons))}" for e in rec.program.excluded]
            out.append("")
    if rec.safety_net:
        out += ["## Stop and seek care if", ""]
        out += [f"- {_md(item)}" for item in rec.safety_net]
        out.append("")
    out += ["## Sources", ""]
    out += [f"- \\[{_md(ref.id)}\\] {_md(ref.citation)}" + (f" {_link(ref.url)}" if ref.url else "")
            for ref in rec.references]
    out += ["", "---", "", f"*{_md(rec.disclaimer)}*", ""]
    return "\n".join(out)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def _verdict(m: MeasureChange) -> str:
    if m.mcid is None:
        return "no MCID (shown only)"
    if m.improved:
        return f"yes, improved by at least {_number(m.mcid)}"
    if m.worsened:
        return f"worse by at least {_number(m.mcid)}"
    if m.latest is None:
        return "not measured again yet"
    return f"not yet (needs {_number(m.mcid)})"


def _state(status: PhaseStatus, criterion: CriterionStatus) -> str:
    if status.quota and not criterion.quota:
        return "not used on a quota plan"
    return "met" if criterion.met else "not yet"


def _phase_words(status: PhaseStatus) -> str:
    days = "no dated feedback yet" if status.days is None else f"day {status.days}"
    left = ""
    if status.days_left:
        left = f", {status.days_left} more day{'s' if status.days_left != 1 else ''} before moving on"
    plan = "; built up by quota (a planned amount, not by pain)" if status.quota else ""
    hold = "; holding for reassessment" if status.holding else ""
    return f"{status.phase}, {days} (at least {status.min_days} days){left}{plan}{hold}"


def progress_lines(progress: Progress) -> list[str]:
    """The progress summary as plain text: the phase gate and the outcome measures."""
    when = progress.date.isoformat() if progress.date else "undated"
    week = f", week {progress.weeks + 1}" if progress.weeks is not None else ""
    lines = [f"Progress ({when}{week}):"]
    if progress.phase is not None:
        lines.append(f"  Phase: {_phase_words(progress.phase)}.")
        for c in progress.phase.criteria:
            lines.append(f"    [{_state(progress.phase, c)}] {c.text}")
    if progress.measures:
        lines.append("  Outcome measures (baseline -> latest, change; meaningful?):")
        for m in progress.measures:
            pct = f" ({m.percent:+g}%)" if m.percent is not None else ""
            change = f"{m.change:+g}" if m.change is not None else "-"
            lines.append(f"    {m.name}: {_number(m.baseline)} -> {_number(m.latest)}, {change}{pct}; "
                         f"{_verdict(m)}")
    else:
        lines.append("  Outcome measures: none recorded yet.")
    return lines


def progress_markdown(progress: Progress) -> list[str]:
    """The progress summary for the handout."""
    out = ["## Your progress", ""]
    if progress.phase is not None:
        out += [f"**Where you are:** {_phase_words(progress.phase)}.", ""]
        if progress.phase.criteria:
            out += ["| To move on | Now |", "|---|---|"]
            out += [f"| {c.text} | {_state(progress.phase, c)} |" for c in progress.phase.criteria]
            out.append("")
    if progress.measures:
        out += ["| Measure | At the start | Latest | Change | Meaningful change? |", "|---|---|---|---|---|"]
        for m in progress.measures:
            change = f"{m.change:+g}" if m.change is not None else "-"
            out.append(f"| {m.name} | {_number(m.baseline)} | {_number(m.latest)} | {change} "
                       f"| {_verdict(m)} |")
        out.append("")
    else:
        out += ["No outcome measures recorded yet.", ""]
    return out
