"""Reading gateway status messages in order, and what a flush stores of them (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.contract import (
    ContractError,
    DeviceStatus,
    GatewayFlag,
    GatewayState,
    Status,
    encode,
    offline_status,
)
from ingest.consumer import Message
from ingest.gateway_status import (
    DeviceReport,
    StatusReport,
    StatusSequence,
    in_lock_order,
    latest_device_reports,
)
from ingest.pending import app_acks
from tests.ingest.status_double import status_message

T0 = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def online(at: datetime, *devices: DeviceStatus, gateway_id: str = "gw-1", **fields) -> Status:
    values = {"software_version": "0.1.0", "outbox_depth": 0, **fields}
    return Status(
        gateway_id=gateway_id, state=GatewayState.ONLINE, at=at, devices=devices, **values
    )


def message(payload: bytes, *, session: int = 1, received_at: datetime = T0) -> Message:
    return status_message(payload, session=session, received_at=received_at)


def test_a_will_is_placed_after_the_status_received_before_it():
    sequence = StatusSequence()
    first = online(T0)
    second = online(T0 + timedelta(minutes=5), outbox_depth=12)
    will = offline_status("gw-1")
    reports = [
        sequence.read(message(encode(status)), gateway_id="gw-1")
        for status in (first, second, will)
    ]
    assert reports == [
        StatusReport(gateway_id="gw-1", status=first, received_at=T0, previous_at=None),
        StatusReport(gateway_id="gw-1", status=second, received_at=T0, previous_at=T0),
        StatusReport(
            gateway_id="gw-1", status=will, received_at=T0, previous_at=T0 + timedelta(minutes=5)
        ),
    ]
    assert [report.is_will for report in reports] == [False, False, True]


def test_gateways_are_remembered_apart_and_forgotten_on_a_new_connection():
    sequence = StatusSequence()
    sequence.read(message(encode(online(T0))), gateway_id="gw-1")
    other = sequence.read(
        message(encode(offline_status("gw-2"))), gateway_id="gw-2"
    )  # a will from a gateway not heard on this connection
    assert other.previous_at is None
    again = sequence.read(message(encode(offline_status("gw-1")), session=2), gateway_id="gw-1")
    assert again.previous_at is None  # packet order means nothing across connections


def test_a_clean_offline_status_has_a_time_and_is_no_will():
    clean = Status(
        gateway_id="gw-1",
        state=GatewayState.OFFLINE,
        at=T0,
        software_version="0.1.0",
        outbox_depth=3,
    )
    report = StatusSequence().read(message(encode(clean)), gateway_id="gw-1")
    assert (report.status, report.is_will) == (clean, False)


def test_an_empty_retained_payload_clears_the_topic():
    report = StatusSequence().read(message(b""), gateway_id="gw-1")
    assert report == StatusReport(gateway_id="gw-1", status=None, received_at=T0)
    assert not report.is_will


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        pytest.param(b"offline", "JSON", id="not-json"),
        pytest.param(encode(online(T0, gateway_id="gw-2")), "gateway_id", id="another-gateway"),
        pytest.param(
            encode(online(T0)).replace(b'"state":"online"', b'"state":"asleep"'),
            "state",
            id="unknown-state",
        ),
        pytest.param(
            encode(online(T0)).replace(b'"at":"2026-11-29T07:00:00.000000Z"', b'"at":null'),
            "at",
            id="online-without-a-time",
        ),
    ],
)
def test_a_bad_status_is_a_contract_error(payload, error):
    with pytest.raises(ContractError, match=error):
        StatusSequence().read(message(payload), gateway_id="gw-1")


def test_a_report_holds_its_own_gateways_status():
    with pytest.raises(ValueError, match="own gateway"):
        StatusReport(gateway_id="gw-2", status=online(T0), received_at=T0)


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
devices = st.builds(
    DeviceStatus,
    device_id=st.sampled_from(["AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02", "cuff-1"]),
    battery=st.none() | st.integers(0, 100),
    rssi=st.none() | st.integers(-127, 20),
    clock_offset_s=st.none() | st.floats(-1e6, 1e6),
)
statuses = st.builds(
    Status,
    gateway_id=st.just("gw-1"),
    state=st.just(GatewayState.ONLINE),
    at=instants,
    software_version=st.just("0.1.0"),
    outbox_depth=st.integers(0, 2**31 - 1),
    flags=st.frozensets(st.sampled_from(GatewayFlag)),
    devices=st.lists(devices, max_size=3, unique_by=lambda d: d.device_id).map(tuple),
) | st.just(offline_status("gw-1"))


@given(statuses)
def test_what_a_gateway_encodes_is_what_ingest_reads(status):
    report = StatusSequence().read(message(encode(status)), gateway_id="gw-1")
    assert report.status == status


@settings(deadline=None)
@given(st.binary(max_size=2048) | statuses.map(encode).map(lambda b: b[: len(b) // 2]))
def test_arbitrary_bytes_give_a_report_or_a_contract_error(data):
    try:
        report = StatusSequence().read(message(data), gateway_id="gw-1")
    except ContractError:
        return
    assert isinstance(report, StatusReport)


def device(device_id: str, **fields) -> DeviceStatus:
    return DeviceStatus(device_id=device_id, **fields)


def report(status: Status, *, received: int = 0) -> StatusReport:
    return StatusReport(
        gateway_id=status.gateway_id,
        status=status,
        received_at=T0 + timedelta(seconds=received),
    )


def test_per_device_and_gateway_the_newest_report_counts():
    early = T0
    late = T0 + timedelta(minutes=5)
    reports = [
        report(online(late, device("cuff-1", battery=40), device("ox-1", battery=90))),
        report(online(early, device("cuff-1", battery=41))),  # late from a lagging process
        report(online(early, device("cuff-1", battery=7), gateway_id="gw-0")),
        StatusReport(gateway_id="gw-1", status=offline_status("gw-1"), received_at=late),
        StatusReport(gateway_id="gw-1", status=None, received_at=late),
    ]
    assert latest_device_reports(reports) == [
        DeviceReport(gateway_id="gw-0", reported_at=early, device=device("cuff-1", battery=7)),
        DeviceReport(gateway_id="gw-1", reported_at=late, device=device("cuff-1", battery=40)),
        DeviceReport(gateway_id="gw-1", reported_at=late, device=device("ox-1", battery=90)),
    ]


def test_of_two_reports_at_the_same_time_the_later_received_counts():
    reports = [
        report(online(T0, device("cuff-1", battery=40))),
        report(online(T0, device("cuff-1", battery=39)), received=1),
    ]
    assert [r.device.battery for r in latest_device_reports(reports)] == [39]


def test_lock_order_groups_gateways_and_keeps_each_gateways_receive_order():
    reports = [
        report(online(T0 + timedelta(seconds=2), gateway_id="gw-2")),
        report(online(T0 + timedelta(seconds=9))),
        report(online(T0 + timedelta(seconds=1), gateway_id="gw-2")),
        report(online(T0 + timedelta(seconds=3))),
    ]
    assert in_lock_order(reports) == [reports[1], reports[3], reports[0], reports[2]]


def test_a_status_gets_no_app_level_ack_only_its_puback():
    reports = [report(online(T0)), StatusReport(gateway_id="gw-1", status=None, received_at=T0)]
    assert app_acks(reports, committed_at=T0) == []
