"""The exceptions backrx raises, and the problem records a broken rule pack yields.

Every error backrx raises on purpose derives from `BackrxError`, whose ``errors()`` lists
what went wrong the way pydantic's ``ValidationError.errors()`` does: one ``{code, loc, msg}``
mapping per problem, with a stable kebab-case ``code`` (each one explained in docs/errors.md), the
``loc`` of the offending part (a file, line and rule id; or a path in the input) and a message
that never repeats an input value. Each error also keeps the standard base class it had before
(``ValueError``, ``RuntimeError``, ``ImportError``), so existing ``except`` clauses still work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, TypedDict

Loc = tuple[str | int, ...]


class ErrorDetails(TypedDict):
    """One problem, as `BackrxError.errors` lists it."""

    code: str
    loc: Loc
    msg: str


class BackrxError(Exception):
    """The base of every error backrx raises on purpose.

    ``errors()`` returns one ``{"code", "loc", "msg"}`` mapping per problem; the codes are listed,
    each with its fix, in docs/errors.md. Subclasses set ``code``, ``loc`` and ``message`` (or
    override ``errors()`` when they carry several problems).
    """

    code: str = "backrx-error"
    loc: Loc = ()
    message: str = ""

    def errors(self) -> list[ErrorDetails]:
        """Every problem as ``{"code", "loc", "msg"}``, like pydantic's ``ValidationError.errors()``."""
        msg = self.message or (str(self.args[0]) if self.args else type(self).__name__)
        return [{"code": self.code, "loc": tuple(self.loc), "msg": msg}]


def errors_of(exc: BaseException) -> list[ErrorDetails]:
    """The ``{code, loc, msg}`` list of a backrx error or of a pydantic ``ValidationError``
    (whose ``type`` becomes the code). Input values are never included. Any other exception
    raises ``TypeError``: it is not a documented refusal."""
    if isinstance(exc, BackrxError):
        return exc.errors()
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return [{"code": err["type"], "loc": tuple(err["loc"]), "msg": err["msg"]}
                for err in exc.errors(include_url=False, include_context=False, include_input=False)]
    raise TypeError(f"{type(exc).__name__} is not a backrx error") from exc


def format_errors(errors: list[ErrorDetails], where: str = "") -> list[str]:
    """One line per problem: ``where: loc.path: message [code=CODE]`` (the command line prints these)."""
    lines = []
    for err in errors:
        path = ".".join(str(part) for part in err["loc"] if part != "")
        head = ": ".join(part for part in (where, path) if part)
        lines.append(f"{head + ': ' if head else ''}{' '.join(err['msg'].split())} [code={err['code']}]")
    return lines


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


class RuleError(BackrxError, ValueError):
    """A rule pack that cannot be loaded. ``problems`` lists every problem found; ``errors()``
    gives each with ``loc = (file, line, rule_id)``."""

    code = "rule-pack"

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

    def errors(self) -> list[ErrorDetails]:
        """Every problem, with ``loc = (file, line, rule_id)`` (line 0 and rule "" when unknown)
        and, when the problem names a key inside the rule, that key after them."""
        out: list[ErrorDetails] = []
        for p in self.problems:
            loc: Loc = (p.file, p.line if p.line is not None else 0, p.rule_id or "")
            if p.location:
                loc = (*loc, p.location)
            out.append({"code": p.code, "loc": loc, "msg": p.message})
        return out


class EngineError(BackrxError, RuntimeError):
    """The rule engine failed in a way backrx could not contain. Please report it as a bug."""

    code = "engine-failure"


class FeedbackError(BackrxError, ValueError):
    """Feedback (or a stored recommendation) that `backrx.adjust` cannot act on.

    ``code`` is a stable kebab-case code (for example ``not-in-phase``, ``round-out-of-order``,
    ``date-required``, ``pack-changed``); ``loc`` is the path of the offending value, in the
    feedback (``("responses", 0, "exercise_id")``) or in the recommendation
    (``("recommendation", "ruleset", "digest")``).
    """

    def __init__(self, message: str, *, code: str = "feedback-error",
                 loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.loc = loc

    def as_dict(self) -> dict[str, Any]:
        """The error as plain data: code, loc and message."""
        return {"code": self.code, "loc": list(self.loc), "message": self.message}


class OverrideError(BackrxError, ValueError):
    """A clinician override that backrx refuses: ``code`` (kebab-case) says why, ``loc`` where.

    ``loc`` is the path of the offending item in the changes, e.g. ``("accept", 0, "acknowledge")``.
    """

    def __init__(self, code: str, message: str, loc: tuple[str | int, ...] = ()) -> None:
        self.code = code
        self.loc = loc
        self.message = message
        where = ".".join(str(part) for part in loc)
        super().__init__(f"override refused: {message} [code={code}" + (f", at {where}]" if where else "]"))


class InputError(BackrxError, ValueError):
    """A file or document backrx cannot read as input: not a regular file, too large, not UTF-8,
    not JSON or YAML, a repeated key, or the wrong kind of document. ``loc`` starts with the file
    (when there is one)."""

    def __init__(self, code: str, message: str, loc: Loc = ()) -> None:
        self.code, self.message, self.loc = code, message, loc
        where = str(loc[0]) if loc else ""
        super().__init__(f"{where + ': ' if where else ''}{message} [code={code}]")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str, Loc]]:
        return (type(self), (self.code, self.message, self.loc))
