"""Technical events: what went wrong (or needs a look) on a gateway, for the fleet.

Not clinical: an event never carries a reading's value, only what a fleet manager or a
technician acts on (a device that will not bond, a clock far off, a full outbox, a
publish the broker refused). The gateway logs each event, counts them by kind and keeps
the latest few for its status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EventKind(StrEnum):
    """The value is the word the log line and the fleet see."""

    # The outbox hit its capacity and dropped or refused continuous samples.
    OUTBOX_FULL = "outbox_full"
    # The broker answered a publish with a failure reason code (MQTT 5 PUBACK >= 0x80).
    PUBLISH_REFUSED = "publish_refused"
    # Ingest dead-lettered a batch (Ack.rejected): it will never be stored.
    BATCH_REJECTED = "batch_rejected"
    # The retained config topic held something that is not a valid config.
    CONFIG_REJECTED = "config_rejected"
    # A message on the ack topic broke the contract (its batches stay in the outbox).
    ACK_REJECTED = "ack_rejected"
    # The broker refused a subscription (config or ack topic): check its ACL.
    SUBSCRIPTION_REFUSED = "subscription_refused"
    # Connecting or talking GATT to a device failed; it is retried with backoff.
    DEVICE_ERROR = "device_error"
    # A Bluetooth scan failed (adapter gone or busy); scanning goes on.
    SCAN_FAILED = "scan_failed"
    # Bonding with a device failed or the agent refused it.
    PAIRING_FAILED = "pairing_failed"
    # A device's clock differs from the gateway's by more than the tolerance.
    CLOCK_SKEW = "clock_skew"
    # A characteristic value did not decode (the bytes are in the detail).
    DECODE_FAILED = "decode_failed"
    # A device sent two different values for one kind and instant; the first is kept.
    READING_CONFLICT = "reading_conflict"
    # A stored-record download (RACP) ended without the device's success response.
    DOWNLOAD_INCOMPLETE = "download_incomplete"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    kind: EventKind
    at: datetime
    detail: str
    device_id: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("at must be timezone-aware")

    def __str__(self) -> str:
        device = f" device={self.device_id}" if self.device_id else ""
        return f"{self.kind}{device}: {self.detail}"
