"""The `Invariant` type: a property every recommendation of a pack must have."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from backrx.model.recommendation import Recommendation
from backrx.ruleset import RuleSet

#: ``check(rules, profile, rec)``: None when the invariant holds, else a short reason.
Check = Callable[[RuleSet, dict[str, Any], Recommendation], "str | None"]
#: ``skip(rules)``: None when the invariant can be checked on these rules, else why not.
SkipCheck = Callable[[RuleSet], "str | None"]
Status = Literal["holds", "violated", "skipped"]

_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*(?:\.[a-z0-9]+(?:[-_][a-z0-9]+)*)+\Z")


@dataclass(frozen=True)
class Invariant:
    """A property every recommendation of a pack must have.

    ``id`` is dotted and lower-case (``clinic.no-running-after-surgery``); ``statement`` is
    one line, written as the property that holds; ``check(rules, profile, rec)`` returns None
    when it holds for this profile and a short reason when it does not. ``skip(rules)``, when
    given, says why the invariant cannot be checked on these rules (None: it can); a skipped
    invariant is reported as such, never as holding.
    """

    id: str
    statement: str
    check: Check
    skip: SkipCheck | None = None

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"invariant id {self.id!r} must be dotted, lower-case words "
                             "(like clinic.no-running-after-surgery)")
        if not self.statement.strip() or "\n" in self.statement.strip():
            raise ValueError(f"invariant {self.id}: the statement must be one line of text")


__all__ = ["Check", "Invariant", "SkipCheck", "Status"]
