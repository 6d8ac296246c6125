"""Gateway status messages as ingest receives them: decoded and put in order. Pure.

Every ingest process subscribes to ``telecare/v1/gw/+/status`` without ``$share``, even
when it shares the readings: brokers disagree on retained messages for a shared
subscription. MQTT 5 has them not sent to a new shared subscription (VerneMQ, quoting the
draft, vernemq/vernemq#337), EMQX 3 sent them to every member (emqx/emqx#1784), and
Mosquitto 2.0.11 sends them (tried against it). A shared status subscription could thus
start with no gateway's status at all. Non-shared, every process gets every gateway's
retained status on each (re)subscribe and every later status, and the writes are
idempotent: N processes store the same thing N times.

Ordering, since N processes may apply a gateway's statuses at different moments: each
status has a place in its gateway's sequence, and applies only if it comes after the
place of the status the gateways row holds (``gateways.reported_at`` and the state):

* a status with ``at`` (online, or a clean offline) sits at its ``at``;
* the Last Will has no ``at`` (it is fixed at connect time). It sits right after the
  status the same process received before it from that gateway (``previous_at``).

So a replayed retained status, or a lagging process repeating what another already
applied, changes nothing, and a lagging process never undoes a newer status. A will with
no predecessor on this connection (after a restart, the retained will may be the first
thing heard) cannot be placed; it applies to a gateway not yet offline, and leaves the
place unknown, so whatever follows it applies. Safer to show a gateway offline until its
next status (at most ``status_interval_s`` later) than to miss that it died.

This rests on the gateway's clock moving forward (NTP). An empty retained payload clears
the topic (MQTT 5.0 section 3.3.1.3), as when a gateway is retired; it is acknowledged
and ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gateway.contract import DeviceStatus, GatewayState, Status, decode_status
from ingest.consumer import Message


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    """One status message: what it says, when it came, what came before it."""

    gateway_id: str
    # None: the retained status was cleared (an empty payload); nothing to store.
    status: Status | None
    received_at: datetime
    # The ``at`` of the status this process received from the gateway before this one,
    # on the same connection (None: none yet). Places a Last Will in the sequence.
    previous_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status.gateway_id != self.gateway_id:
            raise ValueError("a status report holds its own gateway's status")

    @property
    def is_will(self) -> bool:
        """The Last Will (or any offline status without a time): the broker speaking."""
        status = self.status
        return status is not None and status.state is GatewayState.OFFLINE and status.at is None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceReport:
    """What one gateway's status said about one device, and when (the status's ``at``)."""

    gateway_id: str
    reported_at: datetime
    device: DeviceStatus


class StatusSequence:
    """Reads status messages in receive order, remembering each gateway's last ``at``.

    One per consumer connection: packet order is only meaningful within it, so the
    memory starts over when ``Message.session`` changes (a redelivered will then has no
    predecessor, which lets it apply unless the gateway is already offline).
    """

    __slots__ = ("_last_at", "_session")

    def __init__(self) -> None:
        self._session: int | None = None
        self._last_at: dict[str, datetime] = {}

    def read(self, message: Message, *, gateway_id: str) -> StatusReport:
        """The report in ``message`` (from ``gateway_id``'s status topic).

        Raises ContractError when the payload is not that gateway's status.
        """
        if message.session != self._session:
            self._session = message.session
            self._last_at.clear()
        status = (
            decode_status(message.payload, topic_gateway_id=gateway_id) if message.payload else None
        )
        report = StatusReport(
            gateway_id=gateway_id,
            status=status,
            received_at=message.received_at,
            previous_at=self._last_at.get(gateway_id),
        )
        if status is not None and status.at is not None:
            self._last_at[gateway_id] = status.at
        return report


def latest_device_reports(reports: Iterable[StatusReport]) -> list[DeviceReport]:
    """Per device and gateway, the newest report (by ``at``, then receive order).

    Sorted by device id, then gateway id: the order rows are locked in, so concurrent
    ingest processes cannot deadlock on them.
    """
    latest: dict[tuple[str, str], DeviceReport] = {}
    for report in reports:
        status = report.status
        if status is None or status.at is None:
            continue
        for device in status.devices:
            key = (device.device_id, report.gateway_id)
            known = latest.get(key)
            if known is None or status.at >= known.reported_at:
                latest[key] = DeviceReport(
                    gateway_id=report.gateway_id, reported_at=status.at, device=device
                )
    return [latest[key] for key in sorted(latest)]


def in_lock_order(reports: Iterable[StatusReport]) -> list[StatusReport]:
    """Reports grouped by gateway id (sorted), each gateway's in receive order."""
    return sorted(reports, key=lambda report: report.gateway_id)
