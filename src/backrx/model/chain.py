"""Stored records chained by digest: an edited, erased or reordered record is detected.

A recommendation's records are its clinician overrides and its adjustment rounds, taken in the
order they were made (the overrides made before the first round, round 1, the overrides made
after it, round 2, ...). Each record carries a `Chain`
whose ``prev`` is the digest of the record before it (for the first, the digest of the
recommendation it amends: its profile). A record's digest is the SHA-256 of its
canonical JSON (sorted keys, no spaces, UTF-8) with its ``prev`` inside, so changing any record
breaks the ``prev`` of the next; ``Recommendation.records_head`` holds the digest of the last
record, so editing or erasing the last one shows too. Times may not run backwards: each override's
``at`` is no earlier than the one before, and no round is dated before an override made ahead of it.

The digests carry no secret: they find an edit made with a text editor or a database tool, not a
forger who recomputes them (keep the records where only the clinical system can write them).

Records written before the chain (no ``chain``) still load; `verify` with
``allow_unchained=False`` refuses them with ``record-unchained`` (re-plan them once with
``backrx.migrate``, which makes and chains every record again).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any, Literal, Protocol, TypeVar

from pydantic import ConfigDict, Field

from backrx.errors import BackrxError
from backrx.model.measures import Compact
from backrx.readers.documents import SHOW_INPUT_IN_ERRORS

#: The version of the chain a record carries (``Chain.version``).
CHAIN_VERSION: Literal[1] = 1
#: The codes `ChainError` carries.
CHAIN_CODES = ("record-chain-broken", "record-time-backwards", "record-unchained")

class Chain(Compact):
    """Where a stored record sits in the chain of records."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=not SHOW_INPUT_IN_ERRORS)

    version: Literal[1] = Field(default=1, description="the chain's format")
    prev: str = Field(description="the digest of the record before (the first: of the recommendation)")


class Record(Protocol):
    """An override or an adjustment round (this module sits below the models it checks)."""

    @property
    def chain(self) -> Chain | None: ...

    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...

    def model_copy(self, *, update: dict[str, Any] | None = ...) -> Any: ...


_Rec = TypeVar("_Rec")


class ChainError(BackrxError, ValueError):
    """A stored record that fails its chain: ``code`` (one of `CHAIN_CODES`) and ``loc``."""

    def __init__(self, code: str, message: str, loc: tuple[str | int, ...] = ()) -> None:
        self.code, self.message, self.loc = code, message, loc
        super().__init__(f"{message} [code={code}]")


def _digest(data: Any) -> str:
    """SHA-256 of the canonical JSON, in unpadded base64url (43 characters: histories stay small)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode("utf-8")).digest()).rstrip(b"=").decode()


def anchor(rec: Any) -> str:
    """The digest of what every record amends: the profile. (The rule pack is bound apart: override
    and adjust refuse a recommendation whose pack digest is not the one they are given.)"""
    profile = rec.profile.model_dump(mode="json") if rec.profile is not None else None
    return _digest({"recommendation": {"profile": profile}})


def entry_digest(kind: str, item: Record, prev: str) -> str:
    """The digest of one record over its canonical JSON, its place in the chain included."""
    content = item.model_dump(mode="json")
    content.pop("chain", None)
    return _digest({"version": CHAIN_VERSION, "kind": kind, "prev": prev, "record": content})


def records(rec: Any) -> list[tuple[str, int, Record]]:
    """(kind, index, record) for every record, in the order they were made."""
    out: list[tuple[str, int, Record]] = []
    overrides = list(enumerate(rec.overrides))
    for number in range(len(rec.adjustments) + 1):
        if number:
            out.append(("adjustments", number - 1, rec.adjustments[number - 1]))
        out.extend(("overrides", i, o) for i, o in overrides if o.after_round == number)
    out.extend(("overrides", i, o) for i, o in overrides if not 0 <= o.after_round <= len(rec.adjustments))
    return out


def _instant(text: str) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else None


def _check_times(entries: list[tuple[str, int, Record]]) -> None:
    """Each override's ``at`` no earlier than the override before it; across overrides and rounds
    (an instant against a calendar day, each in its own time zone) a day's slack either way."""
    slack = datetime.timedelta(days=1)
    last_at: datetime.datetime | None = None
    last_round: datetime.date | None = None
    last_override: datetime.date | None = None
    for kind, index, item in entries:
        if kind == "adjustments":
            day = getattr(getattr(item, "feedback", None), "date", None)
            if day is not None and (
                    (last_round is not None and day < last_round) or
                    (last_override is not None and day < last_override - slack)):
                raise ChainError("record-time-backwards", f"round {index + 1} is dated before a record made "
                                 "ahead of it", (kind, index, "feedback", "date"))
            last_round = day if day is not None else last_round
            continue
        at = getattr(item, "at", None)
        if at is None:
            continue
        when = _instant(at)
        if when is None or (last_at is not None and when < last_at) or (
                last_round is not None and when.date() < last_round - slack):
            raise ChainError("record-time-backwards", f"override {index + 1} is timed before a record made "
                             "ahead of it", (kind, index, "at"))
        last_at, last_override = when, when.date()


def verify(rec: Any, *, allow_unchained: bool = True) -> None:
    """Raise `ChainError` unless every stored record is where and as it was written.

    ``allow_unchained``: a recommendation whose records all predate the chain passes (they load
    as written); with False it is refused (``record-unchained``).
    """
    entries = records(rec)
    chained = [e for e in entries if e[2].chain is not None]
    if entries and not chained and rec.records_head is None:
        if allow_unchained:
            return
        raise ChainError("record-unchained", "the overrides and adjustment rounds of this recommendation "
                         "were written before records were chained; re-plan it once with "
                         "backrx.migrate(rec, rules) to check and chain them", ())
    prev = anchor(rec)
    for kind, index, item in entries:
        link = item.chain
        if link is None or link.prev != prev:
            raise ChainError("record-chain-broken", f"{kind} {index + 1} follows a record that was edited, "
                             "moved or erased (its prev digest does not match)", (kind, index))
        prev = entry_digest(kind, item, prev)
    if (rec.records_head or anchor(rec)) != prev:
        raise ChainError("record-chain-broken", "the last record is missing or was edited (records_head "
                         "does not match)", ("records_head",))
    _check_times(entries)


def seal(rec: _Rec, count: int) -> _Rec:
    """``rec`` with its last ``count`` records (just made) chained and ``records_head`` set."""
    sealed: _Rec = _seal(rec, count)
    return sealed


def _seal(rec: Any, count: int) -> Any:
    entries = records(rec)
    start = len(entries) - count
    prev = anchor(rec)
    for kind, _, item in entries[:start]:
        prev = entry_digest(kind, item, prev)
    overrides, rounds = list(rec.overrides), list(rec.adjustments)
    for kind, index, item in entries[start:]:
        link = Chain(version=CHAIN_VERSION, prev=prev)
        if kind == "overrides":
            overrides[index] = rec.overrides[index].model_copy(update={"chain": link})
        else:
            rounds[index] = rec.adjustments[index].model_copy(update={"chain": link})
        prev = entry_digest(kind, item, prev)
    return rec.model_copy(update={"overrides": overrides, "adjustments": rounds, "records_head": prev})


__all__ = ["CHAIN_CODES", "CHAIN_VERSION", "ChainError", "anchor", "entry_digest", "records", "seal",
           "verify"]
