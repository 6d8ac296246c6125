"""The app-level ack: ingest tells a gateway which batches are durably stored.

    {"v":1,"gateway_id":"gw-1","batch_ids":["<uuid>",..],
     "committed_at":"2026-11-29T07:22:01.000000Z",
     "rejected":[{"batch_id":"<uuid>","reason":"readings[3].kind: unknown Kind 'x'"}]}

Published on ``telecare/v1/gw/{id}/ack`` after the database commit. A broker PUBACK is
not durability (Mosquitto loses acknowledged messages on a crash), so a batch leaves
the gateway's outbox only when an ack names it: in ``batch_ids`` (stored, or already
stored by an earlier delivery) or in ``rejected`` (dead-lettered by ingest: the same
bytes would fail again, so the gateway stops resending them and raises a technical
event). A batch id appears at most once in an ack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.identifier import check_batch_id, check_gateway_id
from gateway.limits import MAX_ACK_ENTRIES, MAX_REASON_LENGTH
from gateway.timestamp import check_utc, format_utc, utc_time
from gateway.topic import check_topic_gateway
from gateway.wire import (
    VERSION,
    ContractError,
    array,
    build,
    check_count,
    check_text,
    json_object,
    load_object,
    read,
    string,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """A batch ingest will never store, and why."""

    batch_id: str
    reason: str

    def __post_init__(self) -> None:
        check_batch_id(self.batch_id)
        check_text(self.reason, field="reason", max_length=MAX_REASON_LENGTH)

    def to_json(self) -> dict[str, object]:
        return {"batch_id": self.batch_id, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """Batches of one gateway that ingest has finished with."""

    gateway_id: str
    batch_ids: tuple[str, ...] = ()
    committed_at: datetime
    rejected: tuple[Rejection, ...] = ()

    def __post_init__(self) -> None:
        check_gateway_id(self.gateway_id)
        check_utc(self.committed_at, field="committed_at")
        if not self.batch_ids and not self.rejected:
            raise ContractError("an ack names at least one batch", field="batch_ids")
        check_count((*self.batch_ids, *self.rejected), field="batch_ids", maximum=MAX_ACK_ENTRIES)
        named = [*self.batch_ids, *(rejection.batch_id for rejection in self.rejected)]
        for index, batch_id in enumerate(self.batch_ids):
            check_batch_id(batch_id, field=f"batch_ids[{index}]")
        first_index: dict[str, int] = {}
        for index, batch_id in enumerate(named):
            if first_index.setdefault(batch_id, index) != index:
                raise ContractError(f"batch {batch_id} is named twice", field=_path(index, self))

    def to_json(self) -> dict[str, object]:
        return {
            "v": VERSION,
            "gateway_id": self.gateway_id,
            "batch_ids": list(self.batch_ids),
            "committed_at": format_utc(self.committed_at),
            "rejected": [rejection.to_json() for rejection in self.rejected],
        }


def decode_ack(data: bytes, *, topic_gateway_id: str | None = None) -> Ack:
    """The ack in ``data``; with ``topic_gateway_id``, it must be for that gateway."""
    obj = load_object(data)
    ack = build(
        lambda: Ack(
            gateway_id=read(obj, "gateway_id", string),
            batch_ids=read(obj, "batch_ids", _batch_ids),
            committed_at=read(obj, "committed_at", utc_time),
            rejected=read(obj, "rejected", _rejections),
        )
    )
    check_topic_gateway(ack.gateway_id, topic_gateway_id)
    return ack


def _path(index: int, ack: Ack) -> str:
    if index < len(ack.batch_ids):
        return f"batch_ids[{index}]"
    return f"rejected[{index - len(ack.batch_ids)}].batch_id"


def _rejection(value: object) -> Rejection:
    obj = json_object(value)
    return Rejection(batch_id=read(obj, "batch_id", string), reason=read(obj, "reason", string))


_batch_ids = array(string)
_rejections = array(_rejection)
