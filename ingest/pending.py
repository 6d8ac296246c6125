"""Messages received but not yet committed, and what each will become.

Every message becomes exactly one of: an ``Arrival`` (a decoded batch, its readings split
by plausibility into stored and quarantined; ``ingest.store``), a ``StatusReport`` (a
gateway's status; ``ingest.gateway_status``) or a ``DeadLetter`` (bytes that do not
decode, kept with the reason). All are committed together and the messages
then acknowledged in receive order, so a poison message neither blocks the stream nor
disappears. After the commit each gateway gets an app-level ``Ack`` naming its committed
batches, and the batches it must stop resending (``rejected``). Pure: no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.contract import (
    MAX_ACK_ENTRIES,
    MAX_REASON_LENGTH,
    Ack,
    Channel,
    ContractError,
    Rejection,
    decode_readings,
    parse_topic,
    salvage_batch_id,
)
from ingest import plausibility
from ingest.consumer import Message
from ingest.gateway_status import StatusReport
from ingest.store import Arrival

# Reject reasons travel as contract free text: no control characters (gateway.wire).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_ELLIPSIS = "..."


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A message that will never decode, kept byte for byte with why."""

    topic: str
    payload: bytes = field(repr=False)
    error: str
    received_at: datetime
    # From the topic when it parses, and the batch id when the payload still names one:
    # then the gateway is told to stop resending it.
    gateway_id: str | None = None
    batch_id: str | None = None


# What a received message becomes.
Outcome = Arrival | StatusReport | DeadLetter


def classify(message: Message, *, skew: timedelta) -> Arrival | DeadLetter:
    """Decode one message with the contract; plausibility splits its readings."""
    gateway_id: str | None = None
    try:
        gateway_id, channel = parse_topic(message.topic)
        if channel is not Channel.READINGS:
            raise ContractError(f"ingest reads {Channel.READINGS} topics only", field="topic")
        batch = decode_readings(message.payload, topic_gateway_id=gateway_id)
    except ContractError as exc:
        return dead_letter(message, error=str(exc), gateway_id=gateway_id)
    accepted, quarantined = plausibility.check(batch.readings, now=message.received_at, skew=skew)
    return Arrival.of(
        batch, received_at=message.received_at, readings=accepted, quarantined=quarantined
    )


def dead_letter(message: Message, *, error: str, gateway_id: str | None) -> DeadLetter:
    return DeadLetter(
        topic=message.topic,
        payload=message.payload,
        error=error,
        received_at=message.received_at,
        gateway_id=gateway_id,
        batch_id=None if gateway_id is None else salvage_batch_id(message.payload),
    )


@dataclass(slots=True)
class Pending:
    """What the next commit will hold, in receive order."""

    messages: list[Message] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    readings: int = 0
    # monotonic() when the first message was added: the max-delay clock starts there.
    since: float | None = None

    def add(self, message: Message, outcome: Outcome, *, now: float) -> None:
        self.messages.append(message)
        self.outcomes.append(outcome)
        if isinstance(outcome, Arrival):
            self.readings += len(outcome.readings) + len(outcome.quarantined)
        if self.since is None:
            self.since = now

    def __len__(self) -> int:
        return len(self.messages)

    @property
    def arrivals(self) -> list[Arrival]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, Arrival)]

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, DeadLetter)]


def app_acks(outcomes: Iterable[Outcome], *, committed_at: datetime) -> list[Ack]:
    """One or more acks per gateway: its committed batch ids, then its rejected ones.

    Ids are named once each (a replayed batch may arrive twice in one commit), committed
    wins over rejected, and an ack names at most MAX_ACK_ENTRIES batches.
    """
    committed: dict[str, dict[str, None]] = {}
    rejected: dict[str, dict[str, str]] = {}
    for outcome in outcomes:
        if isinstance(outcome, Arrival):
            committed.setdefault(outcome.gateway_id, {})[str(outcome.batch_id)] = None
        elif (
            isinstance(outcome, DeadLetter)
            and outcome.gateway_id is not None
            and outcome.batch_id is not None
        ):
            reasons = rejected.setdefault(outcome.gateway_id, {})
            reasons.setdefault(outcome.batch_id, reason_text(outcome.error))
    acks = []
    for gateway_id in dict.fromkeys([*committed, *rejected]):
        batch_ids = list(committed.get(gateway_id, {}))
        rejections = [
            Rejection(batch_id=batch_id, reason=reason)
            for batch_id, reason in rejected.get(gateway_id, {}).items()
            if batch_id not in committed.get(gateway_id, {})
        ]
        acks.extend(_chunked(gateway_id, batch_ids, rejections, committed_at=committed_at))
    return acks


def reason_text(error: str) -> str:
    """An error as a contract reject reason: no control characters, bounded length."""
    text = _CONTROL.sub("?", error) or "rejected"
    if len(text) > MAX_REASON_LENGTH:
        text = text[: MAX_REASON_LENGTH - len(_ELLIPSIS)] + _ELLIPSIS
    return text


def _chunked(
    gateway_id: str,
    batch_ids: Sequence[str],
    rejections: Sequence[Rejection],
    *,
    committed_at: datetime,
) -> list[Ack]:
    entries: list[str | Rejection] = [*batch_ids, *rejections]
    acks = []
    for start in range(0, len(entries), MAX_ACK_ENTRIES):
        chunk = entries[start : start + MAX_ACK_ENTRIES]
        acks.append(
            Ack(
                gateway_id=gateway_id,
                batch_ids=tuple(entry for entry in chunk if isinstance(entry, str)),
                committed_at=committed_at,
                rejected=tuple(entry for entry in chunk if isinstance(entry, Rejection)),
            )
        )
    return acks
