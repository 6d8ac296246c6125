"""The fleet: devices, lifecycle, assignments, gateways, config pushed over MQTT."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from api.app import create_app
from ingest.settings import Broker, MqttProtocol
from tests.api.conftest import bearer, mint, settings_for

CLINICAL_FIELDS = {"value", "worst_value", "thresholds", "readings", "kind", "severity"}


def test_devices_of_the_own_organization_only(client, headers, world):
    found = client.get("/fleet/devices", headers=headers("fleet_m1")).json()
    assert [d["id"] for d in found] == ["bp-a", "bp-b", "ox-a", "spare-m1"]
    bp_a = found[0]
    assert (bp_a["lifecycle_state"], bp_a["patient_id"], bp_a["battery_percent"]) == (
        "in_use",
        world.patients["a"],
        80,
    )
    assert not CLINICAL_FIELDS & set(bp_a)
    assert client.get("/fleet/devices/bp-c", headers=headers("fleet_m1")).status_code == 404
    in_stock = client.get(
        "/fleet/devices", params={"state": "in_stock"}, headers=headers("fleet_m1")
    )
    assert [d["id"] for d in in_stock.json()] == ["spare-m1"]
    assert client.get("/fleet/devices", headers=headers("nurse_a")).status_code == 403


def test_gateways_of_the_own_organization_only(client, headers):
    found = client.get("/fleet/gateways", headers=headers("fleet_m2")).json()
    assert found == [
        {
            "id": "gw-m2",
            "state": "online",
            "software_version": "1.0.0",
            "outbox_depth": 0,
            "status_flags": [],
            "status_at": "2026-11-28T06:00:00Z",
            "last_seen": "2026-11-28T06:00:00Z",
        }
    ]
    assert client.get("/fleet/gateways/gw-m1", headers=headers("fleet_m2")).status_code == 404


def test_device_life_from_registration_to_reuse(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    fleet = bearer(mint(world, "fleet_m1"))
    created = fresh_client.post(
        "/fleet/devices",
        json={"id": "AA:BB:CC:DD:EE:01", "model": "omron-bp", "serial_number": "X1"},
        headers=fleet,
    )
    assert created.status_code == 201
    assert created.json()["lifecycle_state"] == "in_stock"
    device = "/fleet/devices/AA:BB:CC:DD:EE:01"
    manual = fresh_client.post(f"{device}/transitions", json={"to": "assigned"}, headers=fleet)
    assert manual.status_code == 409
    body = {"patient_id": world.patients["b"], "since": "2026-11-01T00:00:00Z"}
    assigned = fresh_client.post(f"{device}/assignments", json=body, headers=fleet)
    assert assigned.status_code == 201
    assignment = assigned.json()
    assert (assignment["patient_id"], assignment["until"], assignment["assigned_by"]) == (
        world.patients["b"],
        None,
        world.users["fleet_m1"],
    )
    step = fresh_client.post(f"{device}/transitions", json={"to": "in_use"}, headers=fleet)
    assert step.json()["lifecycle_state"] == "in_use"
    ended = fresh_client.post(
        f"/fleet/assignments/{assignment['id']}/end",
        json={"until": "2026-11-20T00:00:00Z"},
        headers=fleet,
    )
    assert ended.json()["until"] == "2026-11-20T00:00:00Z"
    assert fresh_client.get(device, headers=fleet).json()["lifecycle_state"] == "pickup_requested"
    for state in ("returned", "cleaning", "in_stock"):
        step = fresh_client.post(f"{device}/transitions", json={"to": state}, headers=fleet)
        assert step.json()["lifecycle_state"] == state
    # Back in stock, but the first patient had it until 2026-11-20: no second patient then.
    early = {"patient_id": world.patients["a"], "since": "2026-11-19T00:00:00Z"}
    overlap = fresh_client.post(f"{device}/assignments", json=early, headers=fleet)
    assert overlap.status_code == 409
    assert overlap.json()["detail"] == "overlaps another (device_assignments_one_patient)"
    history = fresh_client.get(f"{device}/assignments", headers=fleet).json()
    assert [a["id"] for a in history] == [assignment["id"]]
    # A foreign patient cannot get the device; a busy device cannot be assigned twice.
    foreign = {"patient_id": world.patients["c"]}
    assert (
        fresh_client.post(f"{device}/assignments", json=foreign, headers=fleet).status_code == 404
    )
    busy = fresh_client.post("/fleet/devices/bp-a/assignments", json=body, headers=fleet)
    assert busy.status_code == 409
    assert sql(
        "SELECT patient_id, action FROM audit_log WHERE user_id = %s AND action <> 'search' "
        "ORDER BY id",
        (world.users["fleet_m1"],),
    ) == [(world.patients["b"], "create"), (world.patients["b"], "update")]


def test_bad_device_ids_are_rejected(fresh_client, fresh_world_db):
    fleet = bearer(mint(fresh_world_db.world, "fleet_m1"))
    bad = fresh_client.post("/fleet/devices", json={"id": "a/b", "model": "x"}, headers=fleet)
    assert bad.status_code == 422
    taken = fresh_client.post("/fleet/devices", json={"id": "bp-c", "model": "x"}, headers=fleet)
    assert taken.status_code == 409


def _retained(broker_url: str, topic: str, *, protocol: MQTTProtocolVersion = paho.MQTTv5) -> bytes:
    broker = Broker.from_url(broker_url)
    got = threading.Event()
    payload: list[bytes] = []

    def on_message(client, userdata, message):
        payload.append(message.payload)
        got.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert got.wait(10), "no retained config"
    finally:
        client.disconnect()
        client.loop_stop()
    return payload[0]


def test_config_push_publishes_the_retained_allowlist(fresh_world_db, mosquitto):
    world = fresh_world_db.world
    settings = settings_for(fresh_world_db.url, broker=Broker.from_url(mosquitto.url))
    fleet = bearer(mint(world, "fleet_m1"))
    body = {
        "devices": [{"device_id": "bp-a", "profile": "omron-bp"}],
        "settings": {"scan_interval_s": 60},
    }
    with TestClient(create_app(settings)) as client:
        pushed = client.put("/fleet/gateways/gw-m1/config", json=body, headers=fleet)
        assert pushed.status_code == 200
        assert pushed.json()["topic"] == "telecare/v1/gw/gw-m1/config"
        assert client.get("/fleet/gateways/gw-m1/config", headers=fleet).json() == pushed.json()
        foreign = {"devices": [{"device_id": "bp-c"}]}
        assert (
            client.put("/fleet/gateways/gw-m1/config", json=foreign, headers=fleet).status_code
            == 404
        )
        bad = {"devices": [], "settings": {"scan_interval_s": 0}}
        assert (
            client.put("/fleet/gateways/gw-m1/config", json=bad, headers=fleet).status_code == 422
        )
    message = json.loads(_retained(mosquitto.url, "telecare/v1/gw/gw-m1/config"))
    assert message["devices"] == [{"device_id": "bp-a", "profile": "omron-bp"}]
    assert message["settings"]["scan_interval_s"] == 60
    assert message == pushed.json()["config"]


def test_config_push_speaks_mqtt_311_to_the_demos_amqtt_when_told(fresh_world_db, amqtt):
    # The demo's fallback broker knows only 3.1.1: the api uses TELECARE_MQTT_PROTOCOL, as
    # ingest and the gateways do; without it the api's MQTT 5 connection is refused.
    broker = Broker.from_url(amqtt.url)
    fleet = bearer(mint(fresh_world_db.world, "fleet_m1"))
    body = {"devices": [{"device_id": "ox-a", "profile": "nonin-3230"}]}
    told = settings_for(fresh_world_db.url, broker=broker, mqtt_protocol=MqttProtocol.V311)
    with TestClient(create_app(told)) as client:
        pushed = client.put("/fleet/gateways/gw-m1/config", json=body, headers=fleet)
    assert pushed.status_code == 200
    topic = "telecare/v1/gw/gw-m1/config"
    message = json.loads(_retained(amqtt.url, topic, protocol=paho.MQTTv311))
    assert message == pushed.json()["config"]
    assert message["devices"] == [{"device_id": "ox-a", "profile": "nonin-3230"}]
    with TestClient(create_app(settings_for(fresh_world_db.url, broker=broker))) as client:
        refused = client.put("/fleet/gateways/gw-m1/config", json=body, headers=fleet)
    assert (refused.status_code, refused.json()["code"]) == (503, "unavailable")


@pytest.mark.parametrize(
    "broker", [None, "mqtt://127.0.0.1:1"], ids=["none-configured", "unreachable"]
)
def test_config_push_without_a_broker_is_503(fresh_world_db, broker):
    settings = settings_for(
        fresh_world_db.url, broker=None if broker is None else Broker.from_url(broker)
    )
    fleet = bearer(mint(fresh_world_db.world, "fleet_m1"))
    with TestClient(create_app(settings)) as client:
        pushed = client.put("/fleet/gateways/gw-m1/config", json={"devices": []}, headers=fleet)
    assert pushed.status_code == 503
    assert pushed.json()["code"] == "unavailable"


def test_gateway_conditions_and_what_devices_report(fresh_client, fresh_world_db, sql):
    sql("UPDATE gateways SET status_flags = '{bluetooth_unavailable}' WHERE id = 'gw-m1'")
    sql(
        "UPDATE devices SET reported_model = 'BM54', reported_serial = 'X-1', "
        "clock_offset_s = -312.5 WHERE id = 'spare-m1'"
    )
    headers = bearer(mint(fresh_world_db.world, "fleet_m1"))
    gateway = fresh_client.get("/fleet/gateways/gw-m1", headers=headers).json()
    assert gateway["status_flags"] == ["bluetooth_unavailable"]
    device = fresh_client.get("/fleet/devices/spare-m1", headers=headers).json()
    assert (device["reported_model"], device["reported_serial"], device["clock_offset_s"]) == (
        "BM54",
        "X-1",
        -312.5,
    )
