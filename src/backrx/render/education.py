"""The education parts of a program as each report shows them (issue 28): the "About your back"
modules, the flare plan and the graded-activity pathway.

The words are the recommendation's own (filled in its locale when it was made, see
`backrx.run.education`); the heading comes from the pack's texts in the same locale. A module
the person marked as read in a follow-up round (``Feedback.education_read``) is flagged in the
clinician's views.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backrx.model.recommendation import Recommendation

__all__ = ["education_context", "education_heading", "education_lines", "education_markdown", "modules_read"]


def education_heading(rec: Recommendation, t: Callable[[str], str]) -> str:
    """The section's heading in ``rec``'s language: from the report words ``t`` when they hold it,
    else from the bundled pack ("" when the recommendation carries no modules)."""
    if rec.program is None or not rec.program.education:
        return ""
    try:
        return t("education.heading")
    except KeyError:  # report words read from text.yaml alone: the heading lives in education.yaml
        from backrx.ruleset import default_rules

        pack = default_rules().pack
        return pack.locales.get(rec.locale, {}).get("text.education.heading",
                                                    pack.texts.get("education.heading", ""))


def modules_read(rec: Recommendation) -> dict[str, str]:
    """The modules marked as read in the history: module id -> the date of the round (or "")."""
    out: dict[str, str] = {}
    for round_ in rec.adjustments:
        feedback = round_.feedback
        for module in getattr(feedback, "education_read", ()):
            out.setdefault(module, str(feedback.date or ""))
    return out


def education_context(rec: Recommendation, heading: str, patient: bool) -> dict[str, Any] | None:
    """The template's ``education`` value (None when the recommendation carries no program)."""
    program = rec.program
    if program is None or not program.education:
        return None
    read = modules_read(rec)
    modules = [{"id": m.id, "title": m.title, "text": m.text, "read": m.id in read,
                "rule_id": m.rule_id, "sources": m.sources} for m in program.education]
    flare = program.flare_plan
    graded = program.graded_activity
    ladders: list[dict[str, Any]] = []
    if graded is not None:
        for activity in graded.activities:
            ladders.append({"activity": activity,
                            "steps": [s.text for s in graded.steps if s.activity == activity]})
    return {"heading": heading, "modules": modules, "patient": patient,
            "flare": flare.model_dump() if flare is not None else None,
            "graded": None if graded is None else {
                "title": graded.title, "intro": graded.intro, "ladders": ladders,
                "referral": graded.referral, "supports": graded.supports, "cannot": graded.cannot,
                "rule_ids": graded.rule_ids}}


def education_lines(rec: Recommendation, heading: str) -> list[str]:
    """The clinician's text view: modules with the rule that chose them, the flare plan, the pathway."""
    ctx = education_context(rec, heading, patient=False)
    if ctx is None:
        return []
    out = ["", heading]
    for m in ctx["modules"]:
        out.append(f"  - {m['title']}{' [✓]' if m['read'] else ''}: {m['text']} ({m['rule_id']}; "
                   f"{', '.join(m['sources'])})")
    flare = ctx["flare"]
    if flare is not None:
        out.append(f"  * {' '.join(flare['first_days'])}")
        out.append(f"  * {flare['keep']} [{', '.join(flare['keep_exercises']) or '-'}]")
        out.append(f"  * {flare['ease']} [{', '.join(flare['ease_exercises']) or '-'}]")
        out.append(f"  * {flare['seek_help'][0]}")
        out.append(f"  * {flare['resume']}")
    graded = ctx["graded"]
    if graded is not None:
        out += ["", graded["title"], f"  {graded['intro']}"]
        for ladder in graded["ladders"]:
            out.extend(f"  - {step}" for step in ladder["steps"])
        out += [f"  ! {graded['referral']}", f"  {graded['supports']}", f"  {graded['cannot']}"]
    return out


def education_markdown(rec: Recommendation, heading: str, md: Any) -> list[str]:
    """The Markdown handout's view, ``md`` escaping every pack and input text."""
    ctx = education_context(rec, heading, patient=True)
    if ctx is None:
        return []
    out = [f"## {md(heading)}", ""]
    out += [f"- **{md(m['title'])}**: {md(m['text'])}" for m in ctx["modules"]]
    out.append("")
    flare = ctx["flare"]
    if flare is not None:
        title = next((m["title"] for m in ctx["modules"] if m["id"] == "flare-plan"), "")
        out += [f"### {md(title)}", ""] if title else []
        out += [f"- {md(line)}" for line in flare["first_days"]]
        out += [f"- {md(flare[key])}" for key in ("keep", "ease")]
        out += [f"- **{md(flare['seek_help'][0])}**", f"- {md(flare['resume'])}", ""]
    graded = ctx["graded"]
    if graded is not None:
        out += [f"### {md(graded['title'])}", "", md(graded["intro"]), ""]
        for ladder in graded["ladders"]:
            out.extend(f"- {md(step)}" for step in ladder["steps"])
        out += ["", md(graded["supports"]), md(graded["cannot"]), ""]
    return out
