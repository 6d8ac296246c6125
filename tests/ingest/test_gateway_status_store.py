"""Gateway statuses in the database: the ordering rule, devices, sightings (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.contract import (
    DeviceStatus,
    GatewayFlag,
    GatewayState,
    Status,
    encode,
    offline_status,
)
from ingest.alert_settings import AlertSettings
from ingest.gateway_status import StatusReport, StatusSequence
from ingest.gateway_status_store import StatusResult, store_statuses
from ingest.watchdog import tick
from tests.ingest.alerting import add_gateway
from tests.ingest.gateway_double import EPOCH
from tests.ingest.seed import add_device, add_organization
from tests.ingest.status_double import status_message as message

T0 = EPOCH
MINUTE = timedelta(minutes=1)
GATEWAY_ROW = """
SELECT state, status_at, reported_at, software_version, outbox_depth, status_flags, last_seen
FROM gateways WHERE id = %s
"""
DEVICE_ROW = """
SELECT battery_percent, rssi_dbm, last_seen, firmware_revision, reported_model,
       reported_serial, clock_offset_s, last_gateway_id, reported_at
FROM devices WHERE id = %s
"""
SIGHTINGS = """
SELECT device_id, gateway_id, battery_percent, rssi_dbm, last_seen, firmware_revision,
       reported_model, reported_serial, clock_offset_s, first_reported_at, reported_at
FROM device_sightings ORDER BY device_id, gateway_id
"""


@pytest.fixture
def org(db) -> int:
    organization = add_organization(db)
    add_gateway(db, organization, "gw-1")
    add_device(db, organization, "cuff-1")
    db.commit()
    return organization


def online(at, *devices, gateway_id="gw-1", depth=0, flags=frozenset()) -> Status:
    return Status(
        gateway_id=gateway_id,
        state=GatewayState.ONLINE,
        at=at,
        software_version="0.2.0",
        outbox_depth=depth,
        flags=flags,
        devices=devices,
    )


def report(status, *, received_at=None, previous_at=None, gateway_id=None) -> StatusReport:
    return StatusReport(
        gateway_id=gateway_id or status.gateway_id,
        status=status,
        received_at=received_at or T0,
        previous_at=previous_at,
    )


def will(*, received_at, previous_at=None, gateway_id="gw-1") -> StatusReport:
    return report(offline_status(gateway_id), received_at=received_at, previous_at=previous_at)


def store(db, *reports: StatusReport) -> StatusResult:
    with db.transaction():
        return store_statuses(db, list(reports))


def gateway_row(db, gateway_id="gw-1"):
    row = db.execute(GATEWAY_ROW, (gateway_id,)).fetchone()
    db.rollback()
    return row


def device_row(db, device_id="cuff-1"):
    row = db.execute(DEVICE_ROW, (device_id,)).fetchone()
    db.rollback()
    return row


def test_an_online_status_fills_the_gateways_row(db, org):
    full = online(T0, depth=812, flags=frozenset({GatewayFlag.OUTBOX_FULL}))
    assert store(db, report(full, received_at=T0 + MINUTE)) == StatusResult(applied=1)
    assert gateway_row(db) == ("online", T0, T0, "0.2.0", 812, ["outbox_full"], T0)


def test_a_replayed_or_older_status_changes_nothing(db, org):
    store(db, report(online(T0 + MINUTE, depth=5)))
    assert store(db, report(online(T0 + MINUTE, depth=5))).applied == 0  # retained replay
    assert store(db, report(online(T0, depth=9))).applied == 0  # a lagging process
    assert gateway_row(db)[2:5] == (T0 + MINUTE, "0.2.0", 5)


def test_the_will_marks_offline_when_received_and_a_replay_keeps_that_time(db, org):
    store(db, report(online(T0, depth=3, flags=frozenset({GatewayFlag.OUTBOX_FULL}))))
    gone = T0 + 10 * MINUTE
    assert store(db, will(received_at=gone, previous_at=T0)).applied == 1
    # The retained will again, after an ingest restart: no predecessor, nothing changes.
    assert store(db, will(received_at=gone + 60 * MINUTE)).applied == 0
    # Offline keeps what the gateway said last: version, depth, flags, last seen.
    assert gateway_row(db) == ("offline", gone, T0, "0.2.0", 3, ["outbox_full"], T0)


def test_a_will_received_after_a_newer_status_was_applied_is_stale(db, org):
    back = T0 + 30 * MINUTE
    store(db, report(online(T0)))
    store(db, will(received_at=T0 + 10 * MINUTE, previous_at=T0))
    store(db, report(online(back)))
    # A lagging process applies the first will only now: the gateway is back, it stays so.
    assert store(db, will(received_at=back + MINUTE, previous_at=T0)).applied == 0
    assert gateway_row(db)[:3] == ("online", back, back)


def test_a_will_that_cannot_be_placed_applies_and_what_follows_it_too(db, org):
    store(db, report(online(T0 + 5 * MINUTE)))
    # A process that heard nothing from the gateway before the will (a restart: the
    # retained will came first) cannot tell where it belongs: it shows the gateway offline...
    assert store(db, will(received_at=T0 + 6 * MINUTE)).applied == 1
    assert gateway_row(db)[:3] == ("offline", T0 + 6 * MINUTE, None)
    # ... and whatever that process reads next from the gateway applies in order.
    assert store(db, report(online(T0 + 5 * MINUTE))).applied == 1
    assert gateway_row(db)[:3] == ("online", T0 + 5 * MINUTE, T0 + 5 * MINUTE)


def test_a_first_will_with_nothing_known_before_it_applies(db, org):
    assert store(db, will(received_at=T0)).applied == 1
    assert gateway_row(db)[:3] == ("offline", T0, None)


def test_a_clean_offline_status_carries_its_own_time(db, org):
    store(db, report(online(T0)))
    clean = Status(
        gateway_id="gw-1",
        state=GatewayState.OFFLINE,
        at=T0 + MINUTE,
        software_version="0.2.0",
        outbox_depth=0,
    )
    store(db, report(clean, received_at=T0 + 2 * MINUTE))
    assert gateway_row(db)[:3] == ("offline", T0 + MINUTE, T0 + MINUTE)


def test_a_registered_device_gets_what_its_gateway_reports(db, org):
    cuff = DeviceStatus(
        device_id="cuff-1",
        battery=5,
        rssi=-70,
        last_seen=T0 - MINUTE,
        firmware="1.2",
        model="HEM-7155T",
        serial="2019110345",
        clock_offset_s=-7200.0,
    )
    assert store(db, report(online(T0, cuff))) == StatusResult(applied=1, devices=1)
    assert device_row(db) == (
        5,
        -70,
        T0 - MINUTE,
        "1.2",
        "HEM-7155T",
        "2019110345",
        -7200.0,
        "gw-1",
        T0,
    )
    # What the next status does not know (null) keeps the known value; last seen only grows.
    later = DeviceStatus(device_id="cuff-1", battery=4, last_seen=T0 - 2 * MINUTE)
    store(db, report(online(T0 + MINUTE, later)))
    assert device_row(db)[:3] == (4, -70, T0 - MINUTE)
    assert device_row(db)[6:] == (-7200.0, "gw-1", T0 + MINUTE)
    # An older report of the device (a lagging process) changes nothing.
    store(db, report(online(T0, DeviceStatus(device_id="cuff-1", battery=90))))
    assert device_row(db)[0] == 4


def test_a_device_nobody_registered_is_a_sighting_until_it_is_registered(db, org):
    stranger = DeviceStatus(device_id="AA:BB:CC:DD:EE:FF", rssi=-88, last_seen=T0)
    assert store(db, report(online(T0, stranger))) == StatusResult(applied=1, sightings=1)
    stranger_later = DeviceStatus(device_id="AA:BB:CC:DD:EE:FF", battery=60, last_seen=T0)
    store(db, report(online(T0 + MINUTE, stranger_later)))
    sightings = db.execute(SIGHTINGS).fetchall()
    db.rollback()
    assert sightings == [
        ("AA:BB:CC:DD:EE:FF", "gw-1", 60, -88, T0, None, None, None, None, T0, T0 + MINUTE)
    ]
    # No devices row, no assignment: a sighting never reaches a patient.
    assert db.execute("SELECT count(*) FROM devices WHERE id = 'AA:BB:CC:DD:EE:FF'").fetchone() == (
        0,
    )
    add_device(db, org, "AA:BB:CC:DD:EE:FF")
    db.commit()
    result = store(db, report(online(T0 + 2 * MINUTE, stranger_later)))
    assert result == StatusResult(applied=1, devices=1)
    assert db.execute(SIGHTINGS).fetchall() == []
    db.rollback()
    assert device_row(db, "AA:BB:CC:DD:EE:FF")[0] == 60


def test_a_gateway_cannot_speak_for_another_organizations_device(db, org):
    other = add_organization(db, name="Odense Kommune")
    add_device(db, other, "theirs-1")
    db.commit()
    result = store(db, report(online(T0, DeviceStatus(device_id="theirs-1", battery=1))))
    assert result == StatusResult(applied=1)
    assert device_row(db, "theirs-1")[0] is None
    assert db.execute(SIGHTINGS).fetchall() == []


def test_a_status_of_an_unregistered_gateway_is_skipped(db, org):
    status = online(T0, DeviceStatus(device_id="AA:BB:CC:DD:EE:01", battery=50), gateway_id="gw-9")
    result = store(db, report(status), will(received_at=T0, gateway_id="gw-9"))
    assert result == StatusResult(unregistered=frozenset({"gw-9"}))
    assert db.execute("SELECT count(*) FROM device_sightings").fetchone() == (0,)


def test_a_cleared_status_changes_nothing(db, org):
    store(db, report(online(T0)))
    cleared = StatusReport(gateway_id="gw-1", status=None, received_at=T0 + MINUTE)
    assert store(db, cleared) == StatusResult()
    assert gateway_row(db)[0] == "online"


# A gateway's status sequence: online statuses (a minute apart) and wills, as the broker
# delivers them to every subscriber in the same order. Process "a" hears all of it;
# process "b" subscribes after ``join`` of them were published, so it first hears the
# retained one (the latest) and then the rest. Either may lag the other by any amount.
events = st.lists(st.sampled_from(["online", "will"]), min_size=1, max_size=7)


@st.composite
def two_processes(draw):
    sequence = draw(events)
    join = draw(st.integers(0, len(sequence)))
    heard_by_b = ([join - 1] if join > 0 else []) + list(range(join, len(sequence)))
    turns = draw(st.permutations(["a"] * len(sequence) + ["b"] * len(heard_by_b)))
    return sequence, heard_by_b, turns


RESET = """
UPDATE gateways SET state = 'unknown', status_at = NULL, reported_at = NULL,
    software_version = NULL, outbox_depth = NULL, status_flags = '{}', last_seen = NULL
"""


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=two_processes())
def test_two_processes_in_any_interleaving_end_where_the_sequence_ends(db, org, case):
    sequence, heard_by_b, turns = case
    statuses = [
        online(T0 + index * MINUTE) if event == "online" else offline_status("gw-1")
        for index, event in enumerate(sequence)
    ]
    with db.transaction():
        db.execute(RESET)
    heard = {"a": list(range(len(sequence))), "b": heard_by_b}
    readers = {"a": StatusSequence(), "b": StatusSequence()}
    processed: list[tuple[int, datetime]] = []
    for step, process in enumerate(turns):
        index = heard[process].pop(0)
        received_at = datetime(2030, 1, 1, tzinfo=UTC) + step * MINUTE
        status_report = readers[process].read(
            message(encode(statuses[index]), received_at=received_at), gateway_id="gw-1"
        )
        store(db, status_report)
        processed.append((index, received_at))

    onlines = [i for i, event in enumerate(sequence) if event == "online"]
    last_online = onlines[-1] if onlines else -1
    state, status_at, reported_at = gateway_row(db)[:3]
    if sequence[-1] == "online":
        at = statuses[last_online].at
        assert (state, status_at, reported_at) == ("online", at, at)
    else:
        # Offline since a will after the last online status reached a process: the first
        # to, unless "b" joined on the retained will while "a" lagged behind (then "a"
        # bringing the same will later moves the time by its lag).
        last_at = statuses[last_online].at if onlines else None
        assert (state, reported_at) == ("offline", last_at)
        trailing = [at for index, at in processed if index > last_online]
        assert status_at in trailing
        if heard_by_b == list(range(len(sequence))):
            assert status_at == trailing[0]


def test_the_watchdog_forgets_sightings_nobody_reported_for_a_month(db, org):
    retention = AlertSettings().watchdog.sighting_retention
    old = DeviceStatus(device_id="AA:BB:CC:DD:EE:01", rssi=-90, last_seen=T0)
    store(db, report(online(T0, old)))
    recent = DeviceStatus(device_id="AA:BB:CC:DD:EE:02", rssi=-70, last_seen=T0)
    store(db, report(online(T0 + retention, recent)))
    report_ = tick(db, T0 + retention + MINUTE)
    assert report_.forgotten_sightings == 1
    remaining = [row[0] for row in db.execute(SIGHTINGS).fetchall()]
    db.rollback()
    assert remaining == ["AA:BB:CC:DD:EE:02"]
