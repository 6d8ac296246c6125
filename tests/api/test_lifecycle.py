"""The device lifecycle table."""

from __future__ import annotations

import itertools

import pytest

from api.errors import ConflictError
from api.lifecycle import ASSIGNMENT_ONLY, TRANSITIONS, DeviceState, check_transition

ALL = list(DeviceState)


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("target", ALL)
def test_only_listed_transitions_pass(current, target):
    allowed = target in TRANSITIONS[current]
    for by_assignment in (False, True):
        expected = allowed and (by_assignment or (current, target) not in ASSIGNMENT_ONLY)
        if expected:
            check_transition(current, target, by_assignment=by_assignment)
        else:
            with pytest.raises(ConflictError):
                check_transition(current, target, by_assignment=by_assignment)


def test_every_state_but_retired_can_retire_and_retired_is_final():
    assert all(DeviceState.RETIRED in TRANSITIONS[s] for s in ALL if s is not DeviceState.RETIRED)
    assert TRANSITIONS[DeviceState.RETIRED] == frozenset()


def test_a_device_comes_back_to_stock_through_cleaning():
    path = [
        DeviceState.IN_STOCK,
        DeviceState.ASSIGNED,
        DeviceState.IN_USE,
        DeviceState.PICKUP_REQUESTED,
        DeviceState.RETURNED,
        DeviceState.CLEANING,
        DeviceState.IN_STOCK,
    ]
    for current, target in itertools.pairwise(path):
        check_transition(current, target, by_assignment=True)
