"""The devices a gateway knows: heard in a scan, visited, or assigned to it.

It feeds the ``devices`` list of the gateway's online status (gateway.contract
``DeviceStatus``: battery, RSSI, last contact, firmware, model, serial, clock offset), so
a fleet manager sees which
devices are alive, which are silent and which strangers are near. Bounded: the status
may list ``MAX_DEVICES_PER_GATEWAY`` devices, so the least recently heard stranger goes
first when there are more; assigned devices are always listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from gateway.contract import MAX_DEVICES_PER_GATEWAY, MAX_LABEL_LENGTH, DeviceStatus

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    status: DeviceStatus
    assigned: bool


class Inventory:
    """Device id -> what the gateway last knew; use from the event loop only."""

    __slots__ = ("_entries", "changed")

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self.changed = False

    def assign(self, device_ids: Iterable[str]) -> None:
        """The allowlist changed: assigned devices are listed even before first contact."""
        assigned = set(device_ids)
        for device_id, entry in list(self._entries.items()):
            self._entries[device_id] = replace(entry, assigned=device_id in assigned)
        for device_id in assigned - self._entries.keys():
            self._entries[device_id] = _Entry(
                status=DeviceStatus(device_id=device_id), assigned=True
            )
        self._trim()
        self.changed = True

    def heard(self, device_id: str, *, rssi: int | None, at: datetime) -> None:
        entry = self._entry(device_id)
        self._entries[device_id] = replace(
            entry, status=replace(entry.status, rssi=rssi, last_seen=at)
        )
        self._trim()

    def visited(
        self,
        device_id: str,
        *,
        at: datetime,
        battery: int | None = None,
        firmware: str | None = None,
        model: str | None = None,
        serial: str | None = None,
        clock_offset: timedelta | None = None,
    ) -> None:
        """A session with the device: what it said; None keeps what was known before."""
        entry = self._entry(device_id)
        status = entry.status
        self._entries[device_id] = replace(
            entry,
            status=replace(
                status,
                battery=status.battery if battery is None else battery,
                firmware=_label(firmware) or status.firmware,
                model=_label(model) or status.model,
                serial=_label(serial) or status.serial,
                clock_offset_s=(
                    status.clock_offset_s
                    if clock_offset is None
                    else round(clock_offset.total_seconds(), 3)
                ),
                last_seen=at,
            ),
        )
        self.changed = True

    def statuses(self) -> tuple[DeviceStatus, ...]:
        return tuple(entry.status for entry in self._entries.values())

    def _entry(self, device_id: str) -> _Entry:
        entry = self._entries.get(device_id)
        if entry is None:
            entry = _Entry(status=DeviceStatus(device_id=device_id), assigned=False)
            self.changed = True
        return entry

    def _trim(self) -> None:
        while len(self._entries) > MAX_DEVICES_PER_GATEWAY:
            strangers = [k for k, e in self._entries.items() if not e.assigned]
            if not strangers:
                return
            del self._entries[min(strangers, key=self._last_seen)]

    def _last_seen(self, device_id: str) -> datetime:
        return self._entries[device_id].status.last_seen or _NEVER


def _label(text: str | None) -> str | None:
    """A device-sent string as the status may carry it: trimmed, None when empty."""
    if text is None:
        return None
    return text.strip()[:MAX_LABEL_LENGTH] or None
