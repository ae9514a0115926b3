"""The exceptions backrx raises, and the problem records a broken rule pack yields."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem in a rule pack: where it is, which rule, a stable code and what to do."""

    file: str
    line: int | None
    rule_id: str | None
    code: str
    message: str
    location: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        rule = f"  {self.rule_id}" if self.rule_id else ""
        loc = f" > {self.location}" if self.location else ""
        return f"{where}{rule}{loc}  {self.message}  [code={self.code}]"

    def as_dict(self) -> dict[str, Any]:
        """The problem as plain data."""
        return asdict(self)


class RuleError(ValueError):
    """A rule pack that cannot be loaded. ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems: list[Problem] = sorted(
            problems, key=lambda p: (p.file, p.line if p.line is not None else -1, p.code, p.message)
        )
        count = len(self.problems)
        head = f"the rule pack has {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))

    def __reduce__(self) -> tuple[type[RuleError], tuple[list[Problem]]]:
        # Rebuilt from its problems, so that it survives a trip between processes.
        return (type(self), (self.problems,))


class EngineError(RuntimeError):
    """The rule engine failed in a way backrx could not contain. Please report it as a bug."""


class FeedbackError(ValueError):
    """Feedback that does not fit the recommendation it is applied to."""


class OverrideError(ValueError):
    """A clinician override that backrx refuses: ``code`` (kebab-case) says why, ``loc`` where.

    ``loc`` is the path of the offending item in the changes, e.g. ``("accept", 0, "acknowledge")``.
    """

    def __init__(self, code: str, message: str, loc: tuple[str | int, ...] = ()) -> None:
        self.code = code
        self.loc = loc
        self.message = message
        where = ".".join(str(part) for part in loc)
        super().__init__(f"override refused: {message} [code={code}" + (f", at {where}]" if where else "]"))
