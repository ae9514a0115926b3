"""Load-time checks of a locale's words: their placeholders, and what a blocking referral says.

Placeholders. A locale's report words (``text.*``) are filled by the renderer with the names
`backrx.pack.texts.TEXT_FIELDS` lists; a rule's patient text is filled with the fields its
English text names. A rule's rationale is filled like its English rationale: its translation names
exactly the same fields, no more and no fewer (a clinician reading it in Spanish sees the same
values); a rule's warning message is held to its English message by the same check. Anything
else (``{bogus}``, ``{version:>50000000}``) is refused at load, not met at render time. Every
other section (exercises, phases, tiers, rule titles, referral reasons, safety net) is never
filled, so it holds no placeholder.

Blocking referrals. Which block of a handout renders is decided by the urgency tier (a tier
with ``blocks_exercise: true`` renders the referral and no program); a locale only supplies the
words. Those words must not contradict the tier: no sentence of a blocking tier's heading,
advice, header or title may be a sentence of the words of a plan that goes on (a non-blocking
tier's words, the program's title and outcome line), in the locale or in the pack's own
language. A locale that tells an emergency "your exercise program can continue" is refused.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping

from backrx.pack.texts import TEXT_FIELDS, placeholder_problem
from backrx.pack.tiers import Tiers

_FORMATTER = string.Formatter()
_SENTENCE_END = re.compile(r"[.!?;:]+(?:\s+|\Z)")
_NOT_WORD = re.compile(r"[^\w\s]+")
_WARN_KEY = re.compile(r"\.warn(?:\.\d+)?\Z")  # rules.<id>.warn, rules.<id>.warn.<i>
#: The report words of a plan that goes on, besides the non-blocking tiers' own words.
PROGRAM_TEXTS = ("title.program", "report.md.title.program", "report.outcome.program")
_TIER_TEXTS = ("text.urgency.{u}.heading", "text.urgency.{u}.advice", "tiers.{u}.header", "tiers.{u}.title")

Add = Callable[[str, int | None, str, str], None]  # key, line, code, message


def placeholders_of(add: Add, key: str, text: str, line: int | None,
                    patients: Mapping[str, str | None] | None,
                    rationales: Mapping[str, str] | None = None,
                    warns: Mapping[str, str] | None = None) -> None:
    """A problem when a translated text holds a placeholder its English text is not filled with
    (a rule's patient text is checked only when the rules' ``patients`` texts are given), or, for
    a rationale or a warning message, when its placeholders are not exactly the English text's
    (checked only when the rules' ``rationales``, by rule id, or ``warns``, by locale key, are
    given)."""
    if key.startswith("text."):
        why = placeholder_problem(text, TEXT_FIELDS.get(key.removeprefix("text."), ()))
    elif key.startswith("rules.") and key.endswith(".patient"):
        if patients is None:
            return
        english = patients.get(key.removeprefix("rules.").removesuffix(".patient")) or ""
        why = _field_problem(text, english)
    elif key.startswith("rules.") and key.endswith(".rationale"):
        if rationales is None:
            return
        # A rule that did not load (its own problem is reported) or does not exist (`backrx
        # check` lists the key as extra): only the placeholders' form is checked.
        english = rationales.get(key.removeprefix("rules.").removesuffix(".rationale"), text)
        why = _field_problem(text, english, every=True)
    elif key.startswith("rules.") and warns is not None and _WARN_KEY.search(key):
        # The same check as a rationale's, against the English message under the same key.
        why = _field_problem(text, warns.get(key, text), every=True)
    else:
        why = placeholder_problem(text, ())
    if why is not None:
        add(key, line, "bad-template", f"{key}: {why}")


def _field_problem(text: str, english: str, *, every: bool = False) -> str | None:
    """Why a translated rule text may not be filled like its English text (None: it may); with
    ``every``, it must also show every field the English text shows."""
    try:
        names = {n for _, n, _, _ in _FORMATTER.parse(english) if n is not None}
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        return f"malformed placeholder: {exc}"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if spec or conversion:
            return "a placeholder carries a format spec or a conversion; a placeholder is a bare {field}"
        if name not in names:
            return "a placeholder names a field the English text does not fill"
    dropped = sorted(names - {name for _, name, _, _ in parts if name is not None})
    if every and dropped:
        return ("the translation leaves out the placeholder" + ("s " if len(dropped) > 1 else " ")
                + ", ".join("{" + n + "}" for n in dropped) + " that the English text shows")
    return None


def _sentences(text: str) -> set[str]:
    """The sentences of a text, in a form that ignores case, punctuation and spacing (2+ words)."""
    out = set()
    for piece in _SENTENCE_END.split(text):
        words = _NOT_WORD.sub(" ", piece).casefold().split()
        if len(words) >= 2:
            out.add(" ".join(words))
    return out


def _tier_words(urgency: str, words: Mapping[str, str]) -> dict[str, str]:
    keys = (k.format(u=urgency) for k in _TIER_TEXTS)
    return {k: words[k] for k in keys if words.get(k)}


def english_words(texts: Mapping[str, str], tiers: Tiers) -> dict[str, str]:
    """The pack's own tier and program words, under locale keys."""
    out = {f"text.{k}": v for k, v in texts.items()}
    for urgency, tier in tiers.tiers.items():
        out[f"tiers.{urgency}.header"] = tier.header
        if tier.title:
            out[f"tiers.{urgency}.title"] = tier.title
    return out


def blocking_words(add: Add, translated: Mapping[str, str], english: Mapping[str, str],
                   blocking: tuple[str, ...], urgencies: tuple[str, ...]) -> None:
    """A problem for each blocking tier's text that repeats a sentence of a plan that goes on."""
    shown = {**english, **translated}  # what the locale's reader sees: English where it has no text
    going_on: dict[str, set[str]] = {}
    for words in (english, shown):
        for urgency in urgencies:
            if urgency not in blocking:
                for key, text in _tier_words(urgency, words).items():
                    going_on.setdefault(key, set()).update(_sentences(text))
        for key in PROGRAM_TEXTS:
            if words.get(f"text.{key}"):
                going_on.setdefault(f"text.{key}", set()).update(_sentences(words[f"text.{key}"]))
    for urgency in blocking:
        for key, text in _tier_words(urgency, shown).items():
            said = _sentences(text)
            clash = sorted(other for other, sentences in going_on.items() if said & sentences)
            if clash and (key in translated or translated is english):
                add(key, None, "blocking-tier-wording",
                    f"{key} repeats a sentence of {', '.join(clash)}: the {urgency} tier replaces the "
                    "exercise program, so its words may not read like a plan that goes on")
