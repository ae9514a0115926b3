"""Reading a CDS Hooks call safely: the body cap, refusals as OperationOutcomes, prefetch shapes,
``authored`` instants and references, all without recursion and within stated limits."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from backrx.errors import BackrxError

#: Default limits of one call (each can be changed in ``create_app``).
MAX_BODY_BYTES = 1_000_000
MAX_RESOURCES = 1_000  # an older person's chart holds hundreds of Conditions; the body cap bounds the work
MAX_ITEMS = 2_000
#: The code system of the codes in backrx's refusals (``OperationOutcome.issue.details``).
REFUSAL_SYSTEM = "urn:backrx:cds-error"
# FHIR dateTime (R4): a year, year-month, date, or a date and time with a required offset.
_DATE_TIME = re.compile(
    r"(?P<y>[0-9]{4})(-(?P<m>0[1-9]|1[0-2])(-(?P<d>0[1-9]|[12][0-9]|3[01])"
    r"(T(?P<H>[01][0-9]|2[0-3]):(?P<M>[0-5][0-9])(:(?P<S>[0-5][0-9]|60)(\.(?P<f>[0-9]{1,9}))?)?"
    r"(?P<tz>Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9]))?)?)?")
_HISTORY = re.compile(r"/_history/[^/]*$")


class RefusalError(BackrxError):
    """A call the service will not answer with cards: an HTTP status, a stable code and a message
    that never repeats the caller's values."""

    def __init__(self, status: int, code: str, message: str, issue_type: str = "invalid",
                 problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.issue_type = status, code, message, issue_type
        self.problems = problems or []

    def outcome(self) -> dict[str, Any]:
        """The refusal as a FHIR OperationOutcome (the error body CDS Hooks 2.0 leaves open and
        its 3.0 ballot adopts)."""
        head = {"severity": "error", "code": self.issue_type,
                "details": {"coding": [{"system": REFUSAL_SYSTEM, "code": self.code}], "text": self.message}}
        issues = [head, *({"severity": "error", "code": self.issue_type,
                           "details": {"coding": [{"system": REFUSAL_SYSTEM, "code": self.code}],
                                       "text": message},
                           "expression": [where]} if where else
                          {"severity": "error", "code": self.issue_type, "details": {"text": message}}
                          for where, message in self.problems[:50])]
        return {"resourceType": "OperationOutcome", "issue": issues}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes: a declared or an actual excess is refused (413)."""
    too_large = RefusalError(413, "cds-body-too-large", f"the request body is larger than {limit} bytes",
                        "too-costly")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def instant(value: Any) -> datetime.datetime | None:
    """A FHIR dateTime as a timezone-aware instant (a date alone: its first moment in UTC), or None
    when it is missing or not a valid dateTime (a time without an offset included)."""
    found = _DATE_TIME.fullmatch(value) if isinstance(value, str) else None
    if found is None or (found["H"] is not None and found["tz"] is None):
        return None
    zone = datetime.timezone.utc
    if found["tz"] not in (None, "Z"):
        sign = -1 if found["tz"][0] == "-" else 1
        zone = datetime.timezone(sign * datetime.timedelta(hours=int(found["tz"][1:3]),
                                                           minutes=int(found["tz"][4:6])))
    try:
        return datetime.datetime(int(found["y"]), int(found["m"] or 1), int(found["d"] or 1),
                                 int(found["H"] or 0), int(found["M"] or 0), min(int(found["S"] or 0), 59),
                                 int((found["f"] or "0")[:6].ljust(6, "0")), tzinfo=zone)
    except ValueError:  # 31 February and the like
        return None


def latest(resources: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The response authored last, comparing instants; one without a readable ``authored`` never
    wins over one with it. Ties go to the first (the prefetch asks the server to sort newest first)."""
    floor = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)

    def key(resource: Mapping[str, Any]) -> tuple[bool, datetime.datetime]:
        moment = instant(resource.get("authored"))
        return (moment is not None, moment or floor)

    return max(resources, key=key)


def entries(value: Any, kind: str, limit: int, key: str) -> list[Mapping[str, Any]]:
    """Resources of one type in a prefetch value: null, a resource, a Bundle, or lists and Bundles
    of these, nested; resources of other types are skipped. Anything else (a string, a Bundle whose
    ``entry`` is not a list of objects) is refused (400), and more than ``limit`` resources (413)."""
    bad = RefusalError(400, "cds-bad-prefetch", f"prefetch '{key}' must be null, a FHIR resource, a Bundle "
                       "or a list of them", "structure")
    found: list[Mapping[str, Any]] = []
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        if isinstance(node, list):
            stack.extend(reversed(node))
            continue
        if not isinstance(node, Mapping) or not isinstance(node.get("resourceType"), str):
            raise bad
        if node["resourceType"] == "Bundle":
            listed = node.get("entry")
            if listed is not None and not (isinstance(listed, list)
                                           and all(isinstance(e, Mapping) for e in listed)):
                raise bad
            stack.extend(reversed([e.get("resource") for e in listed or []]))
        elif node["resourceType"] == kind:
            found.append(node)
            if len(found) > limit:
                raise RefusalError(413, "cds-too-many-resources",
                                   f"prefetch '{key}' holds more than {limit} {kind} resources", "too-costly")
    return found


def is_outcome(value: Any) -> bool:
    """Whether a prefetch value is an OperationOutcome: the client could not fetch it."""
    return isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome"


def about(resource: Mapping[str, Any], patient_id: str) -> bool:
    """False for a resource whose subject is another patient (a prefetch must never mix people).

    A reference may be relative or absolute, and may name a version (``Patient/1/_history/2``).
    """
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, Mapping) else None
    if not isinstance(reference, str):
        return True
    reference = _HISTORY.sub("", reference)
    wanted = f"Patient/{patient_id}"
    return reference == wanted or reference.endswith("/" + wanted)


def item_count(resources: list[Mapping[str, Any]]) -> int:
    """How many items and answers the resources hold, at any depth (counted without recursion)."""
    count = 0
    stack: list[Any] = list(resources)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, Mapping):
            count += "linkId" in node or any(key.startswith("value") for key in node if isinstance(key, str))
            stack.extend(v for v in node.values() if isinstance(v, (list, Mapping)))
    return count
