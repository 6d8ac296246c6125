"""The inventory behind the status's device list: assigned devices always listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.contract import MAX_DEVICES_PER_GATEWAY, DeviceStatus
from gateway.inventory import Inventory

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_what_was_heard_and_learnt_on_a_visit():
    inventory = Inventory()
    inventory.assign(["AA:00:00:00:00:01"])
    inventory.heard("AA:00:00:00:00:01", rssi=-60, at=AT)
    inventory.visited("AA:00:00:00:00:01", battery=80, firmware="1.2", at=AT + timedelta(1))
    inventory.heard("AA:00:00:00:00:02", rssi=None, at=AT)
    assert inventory.statuses() == (
        DeviceStatus(
            device_id="AA:00:00:00:00:01",
            battery=80,
            rssi=-60,
            last_seen=AT + timedelta(1),
            firmware="1.2",
        ),
        DeviceStatus(device_id="AA:00:00:00:00:02", last_seen=AT),
    )


def test_strangers_heard_longest_ago_make_room():
    inventory = Inventory()
    inventory.assign(["AA:00:00:00:00:00"])
    for n in range(1, MAX_DEVICES_PER_GATEWAY + 5):
        inventory.heard(f"BB:00:00:00:00:{n:02X}", rssi=-70, at=AT + timedelta(seconds=n))
    listed = [status.device_id for status in inventory.statuses()]
    assert len(listed) == MAX_DEVICES_PER_GATEWAY
    assert "AA:00:00:00:00:00" in listed
    assert "BB:00:00:00:00:01" not in listed
    assert f"BB:00:00:00:00:{MAX_DEVICES_PER_GATEWAY + 4:02X}" in listed


def test_a_visit_records_identity_and_clock_offset_and_keeps_what_it_did_not_learn():
    inventory = Inventory()
    inventory.visited(
        "AA:00:00:00:00:01",
        at=AT,
        battery=80,
        firmware=" 1.2 ",
        model="UA-651BLE",
        serial="5140100123",
        clock_offset=-timedelta(hours=2, microseconds=250),
    )
    # A later session that learnt only the battery keeps the rest.
    inventory.visited("AA:00:00:00:00:01", at=AT + timedelta(1), battery=79, model="")
    assert inventory.statuses() == (
        DeviceStatus(
            device_id="AA:00:00:00:00:01",
            battery=79,
            last_seen=AT + timedelta(1),
            firmware="1.2",
            model="UA-651BLE",
            serial="5140100123",
            clock_offset_s=-7200.0,
        ),
    )
