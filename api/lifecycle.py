"""A device's fleet lifecycle: its states and the transitions between them.

    in_stock --assign--> assigned --delivered--> in_use --unassign--> pickup_requested
        ^                   |                                              |
        |               unassign                                      collected
        |                   v                                              v
        +-------------- in_stock <---cleaned--- cleaning <--------- returned
    any state but retired --> retired (end of life)

Assigning and unassigning also change the device's assignment periods, so they happen
only through the assignment endpoints (``ASSIGNMENT_ONLY``); the rest are plain steps a
fleet manager records. The values are ``devices.lifecycle_state`` (migration 0003);
the states follow FUT's logistics model (reference: clinical.md 6.1, 6.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from api.errors import ConflictError


class DeviceState(StrEnum):
    IN_STOCK = "in_stock"
    ASSIGNED = "assigned"
    IN_USE = "in_use"
    PICKUP_REQUESTED = "pickup_requested"
    RETURNED = "returned"
    CLEANING = "cleaning"
    RETIRED = "retired"


TRANSITIONS: Mapping[DeviceState, frozenset[DeviceState]] = MappingProxyType(
    {
        DeviceState.IN_STOCK: frozenset({DeviceState.ASSIGNED, DeviceState.RETIRED}),
        DeviceState.ASSIGNED: frozenset(
            {DeviceState.IN_USE, DeviceState.IN_STOCK, DeviceState.RETIRED}
        ),
        DeviceState.IN_USE: frozenset({DeviceState.PICKUP_REQUESTED, DeviceState.RETIRED}),
        DeviceState.PICKUP_REQUESTED: frozenset({DeviceState.RETURNED, DeviceState.RETIRED}),
        DeviceState.RETURNED: frozenset({DeviceState.CLEANING, DeviceState.RETIRED}),
        DeviceState.CLEANING: frozenset({DeviceState.IN_STOCK, DeviceState.RETIRED}),
        DeviceState.RETIRED: frozenset(),
    }
)

# Steps that start or end an assignment period: only the assignment endpoints take them.
ASSIGNMENT_ONLY: frozenset[tuple[DeviceState, DeviceState]] = frozenset(
    {
        (DeviceState.IN_STOCK, DeviceState.ASSIGNED),
        (DeviceState.ASSIGNED, DeviceState.IN_STOCK),
        (DeviceState.IN_USE, DeviceState.PICKUP_REQUESTED),
    }
)

# Where unassigning leaves a device: never delivered goes back to stock, else collect it.
AFTER_UNASSIGN: Mapping[DeviceState, DeviceState] = MappingProxyType(
    {
        DeviceState.ASSIGNED: DeviceState.IN_STOCK,
        DeviceState.IN_USE: DeviceState.PICKUP_REQUESTED,
    }
)


def check_transition(current: DeviceState, target: DeviceState, *, by_assignment: bool) -> None:
    """Raise ``ConflictError`` unless ``current -> target`` is allowed this way."""
    if target not in TRANSITIONS[current]:
        raise ConflictError(f"a device cannot go from {current.value} to {target.value}")
    if (current, target) in ASSIGNMENT_ONLY and not by_assignment:
        raise ConflictError(
            f"{current.value} -> {target.value} happens by assigning or unassigning the device"
        )
