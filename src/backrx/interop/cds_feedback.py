"""CDS Hooks 2.0 feedback (``POST {service}/feedback``): what the clinician did with each card.

Each feedback item (card ``uuid``, ``outcome`` accepted or overridden, ``acceptedSuggestions``,
``overrideReason`` and ``outcomeTimestamp``) becomes one event in a feedback log: an append-only
record of accepted and overridden cards, with the pack that issued them. The log holds no health
data: the card's kind (``referral``, ``program``, ``warning|<code>``...), the reason's coding, and
whether a free-text comment was given, never the comment itself.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from backrx.model.recommendation import Recommendation

__all__ = ["FeedbackLog", "FeedbackRequest", "IssuedCards", "JsonlFeedbackLog", "MemoryFeedbackLog",
           "events", "referral_events"]

#: How many feedback items one call may carry.
MAX_FEEDBACK_ITEMS = 100
_CODE = r"^[^\s]+( [^\s]+)*$"  # a FHIR code: no leading, trailing or double whitespace


class FeedbackLog(Protocol):
    """Where feedback events go: ``append`` one event (a JSON-ready mapping)."""

    def append(self, event: Mapping[str, Any]) -> None: ...


class MemoryFeedbackLog:
    """The default log: the last ``capacity`` events, in memory (lost when the process ends)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def append(self, event: Mapping[str, Any]) -> None:
        """Keep one event."""
        with self._lock:
            self._events.append(dict(event))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            return iter(list(self._events))

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)


class JsonlFeedbackLog:
    """An append-only JSON Lines file, one event a line, flushed per event (safe across threads;
    across processes each line is one ``write`` to a file opened for appending)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, event: Mapping[str, Any]) -> None:
        """Write one event as a line."""
        line = (json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        with self._lock, self.path.open("ab") as out:
            out.write(line)
            out.flush()


def events(path: str | Path) -> list[dict[str, Any]]:
    """The events of a JSON Lines feedback log, in order."""
    with Path(path).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


class Coding(BaseModel):
    """A FHIR Coding (the override reason)."""

    model_config = ConfigDict(extra="ignore")

    system: str | None = Field(default=None, max_length=512)
    code: str = Field(min_length=1, max_length=256, pattern=_CODE)
    display: str | None = Field(default=None, max_length=512)


class OverrideReason(BaseModel):
    """Why a card was overridden: a coded reason and an optional comment."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    reason: Coding | None = None
    user_comment: str | None = Field(default=None, alias="userComment", max_length=4_000)


class AcceptedSuggestion(BaseModel):
    """A suggestion the user accepted, by its uuid."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID


class FeedbackItem(BaseModel):
    """One card's outcome."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    card: uuid.UUID
    outcome: Literal["accepted", "overridden"]
    accepted_suggestions: list[AcceptedSuggestion] = Field(default_factory=list, alias="acceptedSuggestions",
                                                           max_length=50)
    override_reason: OverrideReason | None = Field(default=None, alias="overrideReason")
    outcome_timestamp: datetime.datetime = Field(alias="outcomeTimestamp")

    @field_validator("outcome_timestamp")
    @classmethod
    def _zoned(cls, value: datetime.datetime) -> datetime.datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (UTC, ISO 8601)")
        return value

    def consistent(self) -> str | None:
        """What is wrong with the item's fields together, if anything."""
        if self.outcome == "accepted" and not self.accepted_suggestions:
            return "an accepted outcome must list acceptedSuggestions"
        if self.outcome == "accepted" and self.override_reason is not None:
            return "an accepted outcome has no overrideReason"
        if self.outcome == "overridden" and self.accepted_suggestions:
            return "an overridden outcome accepts no suggestions"
        return None


class FeedbackRequest(BaseModel):
    """The body of a feedback call."""

    model_config = ConfigDict(extra="ignore")

    feedback: list[FeedbackItem] = Field(min_length=1, max_length=MAX_FEEDBACK_ITEMS)


class IssuedCards:
    """The cards this process issued lately, by uuid: their kind, pack and suggestions, so that
    feedback can say which kind of card a clinician overrode. Bounded; the oldest are forgotten."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._cards: OrderedDict[str, tuple[str, frozenset[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, card_uuid: str, kind: str, suggestions: frozenset[str]) -> None:
        """Remember one issued card."""
        with self._lock:
            self._cards[card_uuid] = (kind, suggestions)
            self._cards.move_to_end(card_uuid)
            while len(self._cards) > self.capacity:
                self._cards.popitem(last=False)

    def find(self, card_uuid: str) -> tuple[str, frozenset[str]] | None:
        """The kind and suggestion uuids of a card issued here, or None."""
        with self._lock:
            return self._cards.get(card_uuid)


def event(item: FeedbackItem, *, service: str, pack: str, version: str, issued: IssuedCards,
          received: datetime.datetime) -> dict[str, Any]:
    """The feedback log event for one item (an override event when the card was overridden)."""
    card = str(item.card)
    known = issued.find(card)
    accepted = [str(s.id) for s in item.accepted_suggestions]
    reason = item.override_reason.reason if item.override_reason else None
    comment = bool(item.override_reason and item.override_reason.user_comment)
    return {
        "event": "cds-override" if item.outcome == "overridden" else "cds-accepted",
        "service": service,
        "pack": pack,
        "pack_version": version,
        "card": card,
        "card_kind": known[0] if known else None,
        "outcome": item.outcome,
        "accepted_suggestions": accepted,
        "suggestions_known": None if known is None else all(s in known[1] for s in accepted),
        "reason_system": reason.system if reason else None,
        "reason_code": reason.code if reason else None,
        "comment_given": comment,
        "outcome_at": item.outcome_timestamp.astimezone(datetime.timezone.utc).isoformat(),
        "received_at": received.astimezone(datetime.timezone.utc).isoformat(),
    }


def referral_events(feedback: Iterable[Mapping[str, Any]], rec: Recommendation, *, cards: Iterable[str],
                    by: str) -> list[dict[str, Any]]:
    """Episode ``referral`` events (`backrx.followup.episode.ReferralEvent`) for the feedback
    events that accepted the referral card of ``rec``, for a caller who keeps the person's record.

    ``cards``: the uuids of the cards the caller received for this person with ``rec`` (feedback
    names no patient). ``by``: who referred. The event's date is the UTC day of the outcome, its
    urgency and reason the recommendation's. Overridden cards give no event: a declined card
    changes nothing in the plan (their reasons stay in the feedback log, for the pack).
    """
    wanted = set(cards)
    referral = rec.referral
    if referral is None:
        return []
    return [{"kind": "referral", "date": str(item["outcome_at"])[:10], "urgency": referral.urgency,
             "reason": (referral.reasons[0] if referral.reasons else "referral card accepted")[:2000],
             "by": by}
            for item in feedback
            if item.get("event") == "cds-accepted" and item.get("card_kind") == "referral"
            and item.get("card") in wanted]
