"""Gateway statuses end to end: a gateway on a real Mosquitto, ingest, PostgreSQL, watchdog."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from devices.reading import utc_now
from gateway.contract import DeviceStatus, GatewayFlag, GatewayState, Status
from ingest.alert import Audience, TechnicalCondition
from ingest.alert_settings import AlertSettings
from ingest.watchdog import tick
from tests.ingest.alerting import add_gateway, alerts
from tests.ingest.gateway_double import wait_until
from tests.ingest.seed import add_device, add_organization
from tests.ingest.status_double import StatusGateway

CUFF = "AA:BB:CC:DD:EE:01"
SETTINGS = AlertSettings()
OFFLINE_AFTER = SETTINGS.rules.gateway_offline_after


@pytest.fixture
def registered(db) -> int:
    organization = add_organization(db)
    add_gateway(db, organization, "gw-1")
    add_device(db, organization, CUFF, model="HEM-7155T")
    db.commit()
    return organization


@pytest.fixture
def status_gateway(mosquitto):
    gateways: list[StatusGateway] = []

    def make(gateway_id: str = "gw-1") -> StatusGateway:
        gateway = StatusGateway(mosquitto.host, mosquitto.port, gateway_id=gateway_id)
        gateways.append(gateway)
        return gateway

    yield make
    for gateway in gateways:
        gateway.close()


def row(database_url: str, query: str, *params):
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(query, params).fetchone()


def gateway_state(database_url: str, gateway_id: str = "gw-1"):
    return row(database_url, "SELECT state FROM gateways WHERE id = %s", gateway_id)[0]


def troubled_status() -> Status:
    return Status(
        gateway_id="gw-1",
        state=GatewayState.ONLINE,
        at=utc_now(),
        software_version="0.2.0",
        outbox_depth=800_000,
        flags=frozenset({GatewayFlag.OUTBOX_FULL}),
        devices=(
            DeviceStatus(
                device_id=CUFF,
                battery=5,
                rssi=-71,
                last_seen=utc_now(),
                firmware="1.2",
                model="HEM-7155T",
                serial="2019110345",
                clock_offset_s=-7200.0,
            ),
        ),
    )


def technical(db) -> dict[TechnicalCondition, tuple[str, str | None, float | None]]:
    return {
        TechnicalCondition(a.condition): (a.audience, a.device_id or a.gateway_id, a.worst_value)
        for a in alerts(db)
        if a.audience == Audience.TECHNICAL
    }


def test_a_retained_status_and_the_will_become_technical_alerts(
    db, database_url, registered, status_gateway, make_settings, start_ingest
):
    gateway = status_gateway()
    gateway.publish(troubled_status())  # retained before ingest even starts
    ingest = start_ingest(make_settings())
    wait_until(lambda: gateway_state(database_url) == "online", what="the status stored")
    assert row(
        database_url,
        "SELECT battery_percent, rssi_dbm, firmware_revision, reported_serial, clock_offset_s, "
        "last_gateway_id FROM devices WHERE id = %s",
        CUFF,
    ) == (5, -71, "1.2", "2019110345", -7200.0, "gw-1")

    tick(db, utc_now(), SETTINGS)
    assert technical(db) == {
        TechnicalCondition.OUTBOX_FULL: (Audience.TECHNICAL, "gw-1", 800_000.0),
        TechnicalCondition.BATTERY_LOW: (Audience.TECHNICAL, CUFF, 5.0),
        TechnicalCondition.CLOCK_SKEW: (Audience.TECHNICAL, CUFF, 7200.0),
    }
    assert all(a.patient_id is None for a in alerts(db))  # the fleet's, never a clinician's

    gateway.die()
    wait_until(lambda: gateway_state(database_url) == "offline", what="the will stored")
    (went_offline,) = row(database_url, "SELECT status_at FROM gateways WHERE id = 'gw-1'")
    assert abs(went_offline - utc_now()) < timedelta(minutes=1)  # ingest's receive time
    tick(db, went_offline + OFFLINE_AFTER - timedelta(seconds=1), SETTINGS)
    assert TechnicalCondition.GATEWAY_OFFLINE not in technical(db)
    tick(db, went_offline + OFFLINE_AFTER, SETTINGS)
    assert technical(db)[TechnicalCondition.GATEWAY_OFFLINE] == (
        Audience.TECHNICAL,
        "gw-1",
        OFFLINE_AFTER.total_seconds(),
    )
    metrics = ingest.service.metrics()
    assert (metrics.statuses, metrics.dead_letters, metrics.acked) == (2, 0, 2)


def test_every_process_of_a_shared_group_hears_every_status(
    database_url, registered, status_gateway, make_settings, start_ingest
):
    gateway = status_gateway()
    gateway.publish(troubled_status())
    processes = [
        start_ingest(make_settings(shared_group="ingest", client_id=f"ingest-{n}"))
        for n in range(2)
    ]
    wait_until(
        lambda: all(p.service.metrics().statuses == 1 for p in processes),
        what="the retained status at both processes",
    )
    gateway.publish(replace(troubled_status(), outbox_depth=5, flags=frozenset()))
    wait_until(
        lambda: all(p.service.metrics().statuses == 2 for p in processes),
        what="the next status at both processes",
    )
    assert row(database_url, "SELECT outbox_depth, status_flags FROM gateways") == (5, [])


def test_a_bad_status_is_a_dead_letter_and_a_cleared_one_is_ignored(
    database_url, registered, status_gateway, make_settings, start_ingest, count
):
    gateway = status_gateway()
    ingest = start_ingest(make_settings())
    gateway.publish(b'{"v":1,"gateway_id":"gw-2","state":"online"}')
    gateway.publish(b"")  # clears the retained status (decommissioning)
    gateway.publish(troubled_status())
    wait_until(lambda: gateway_state(database_url) == "online", what="the good status")
    assert row(database_url, "SELECT topic, gateway_id FROM dead_letters") == (
        "telecare/v1/gw/gw-1/status",
        "gw-1",
    )
    metrics = ingest.service.metrics()
    assert (metrics.received, metrics.statuses, metrics.dead_letters, metrics.acked) == (
        3,
        2,
        1,
        3,
    )


def test_a_status_of_an_unregistered_gateway_changes_nothing(
    database_url, registered, status_gateway, make_settings, start_ingest, count
):
    stranger = status_gateway("gw-9")
    stranger.publish(replace(troubled_status(), gateway_id="gw-9"))
    ingest = start_ingest(make_settings())
    wait_until(lambda: ingest.service.metrics().statuses == 1, what="the status committed")
    assert (count("dead_letters"), count("device_sightings")) == (0, 0)
    assert row(database_url, "SELECT count(*) FROM gateways WHERE id = 'gw-9'") == (0,)
