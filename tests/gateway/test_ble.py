"""The gateway, unchanged, against the fake BlueZ: bleak's real BlueZ backend, real D-Bus.

Scripted devices (tests/fixtures/bluez_devices.py) behave as the real ones in
../shared/reference/ble.md 2.3 and 5.5 do; readings go through the outbox and the
broker to a stub ingest. test_end_to_end.py does the same into PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from dbus_fast import DBusError

from devices import AbsentReason, Flag, Kind, decode
from devices.racp import (
    delete_all_records,
    encode_racp_request,
    report_all_records,
    report_number_of_records,
)
from devices.reading import utc_now
from devices.simulator.blood_pressure_monitor import SimulatedBloodPressureMonitor
from devices.simulator.pulse_oximeter import SimulatedPulseOximeter
from devices.simulator.scenario import Scenario
from devices.uuids import Characteristic
from gateway.contract import DeviceAssignment
from gateway.event import EventKind
from gateway.service import ble_collector
from tests.fixtures.bluez import ERROR_AUTHENTICATION_REJECTED
from tests.fixtures.bluez_devices import BloodPressureCuff, Oximeter, physiology
from tests.gateway.harness import eventually, key, settings_for_test


def _settings(tmp_path, broker, *devices, **changes):
    allowlist = tuple(DeviceAssignment(device_id=d.address, profile=None) for d in devices)
    return settings_for_test(tmp_path, broker, devices=allowlist, **changes)


def _cuff(seed=1, *scenarios, **options) -> BloodPressureCuff:
    return BloodPressureCuff(
        monitor=SimulatedBloodPressureMonitor(physiology(seed, *scenarios)), **options
    )


def _oximeter(seed=2, **options) -> Oximeter:
    return Oximeter(oximeter=SimulatedPulseOximeter(physiology(seed)), **options)


def _expected_cuff_readings(cuff: BloodPressureCuff):
    return {
        key(r): r
        for data in cuff.sent
        for r in decode(
            Characteristic.BLOOD_PRESSURE_MEASUREMENT,
            data,
            device_id=cuff.address,
            profile="sig-blood-pressure",
        )
    }


async def test_cuff_pairs_through_the_agent_and_its_stored_readings_arrive(
    tmp_path, fake_bluez, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    cuff = _cuff(stored=3)
    fake_bluez.add(cuff)
    running = await start_gateway(_settings(tmp_path, mosquitto, cuff), ble_collector)

    await eventually(lambda: ingest.count() == 12, what="3 measurements x 4 readings")
    expected = _expected_cuff_readings(cuff)
    assert len(cuff.sent) == 3
    assert {k: ingest.stored[k] for k in expected} == expected
    # Bonded headless: the agent registered, made default, and confirmed the pairing.
    calls = [call[0] for call in fake_bluez.calls]
    assert calls.index("RegisterAgent") < calls.index("RequestDefaultAgent") < calls.index("Pair")
    assert fake_bluez.called("RequestConfirmation")[0][2] == "METHOD_RETURN"
    # The clock was set through Current Time, and the fleet sees battery and firmware.
    await eventually(lambda: len(cuff.clock_writes) == 1, what="the clock write")
    await eventually(lambda: _device(running, cuff.address).battery == 81, what="battery")
    assert _device(running, cuff.address).firmware == "1.0.0"


def _device(running, device_id):
    return next(d for d in running.gateway.inventory.statuses() if d.device_id == device_id)


async def test_oximeter_downloads_storage_over_racp_and_streams(
    tmp_path, fake_bluez, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    oximeter = _oximeter(stored=4, samples=20)
    fake_bluez.add(oximeter)
    await start_gateway(_settings(tmp_path, mosquitto, oximeter), ble_collector)

    await eventually(lambda: ingest.count() == 4 * 3 + 20 * 3, what="records and samples")
    writes = [c[3] for c in fake_bluez.called("WriteValue") if c[2] == "2a52"]
    assert writes == [
        encode_racp_request(report_number_of_records()),
        encode_racp_request(report_all_records()),
        encode_racp_request(delete_all_records()),
    ]
    stored = [r for r in ingest.stored.values() if not r.continuous]
    assert len(stored) == 12
    assert all(Flag.FROM_STORAGE in r.flags for r in stored)
    assert {r.kind for r in stored} == {Kind.SPO2, Kind.PULSE_RATE, Kind.PERFUSION_INDEX}
    assert oximeter.streamed == 20
    assert oximeter.oximeter.stored == ()  # deleted after a complete download


async def test_device_that_demands_bonding_unannounced_is_paired_on_the_first_refusal(
    tmp_path, fake_bluez, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    # The catalog's oximeter profile does not expect bonding; this device wants it.
    oximeter = _oximeter(stored=2, samples=0, requires_pairing=True)
    fake_bluez.add(oximeter)
    await start_gateway(_settings(tmp_path, mosquitto, oximeter), ble_collector)

    await eventually(lambda: ingest.count() == 6, what="the stored records")
    assert fake_bluez.device(oximeter.address).paired
    assert [c[0] for c in fake_bluez.calls].count("Pair") == 1


async def test_device_dropping_mid_download_is_retried_and_nothing_doubles(
    tmp_path, fake_bluez, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    oximeter = _oximeter(stored=6, samples=0, drop_after_records=3)
    fake_bluez.add(oximeter)
    running = await start_gateway(_settings(tmp_path, mosquitto, oximeter), ble_collector)

    await eventually(lambda: ingest.count() == 18, what="6 records x 3 readings")
    await eventually(lambda: oximeter.oximeter.stored == (), what="storage deleted")
    assert oximeter.sessions >= 2
    assert running.gateway.event_counts[EventKind.DEVICE_ERROR] >= 1
    # The second download skipped the three records the first one had taken.
    assert all(len(ids) == 1 for ids in ingest.batch_ids_per_key().values())
    assert sum(len(b.readings) for b in ingest.batches) == len(ingest.arrivals)


async def test_nan_readings_arrive_as_absent_values_never_2047(
    tmp_path, fake_bluez, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    cuff = _cuff(3, Scenario.ERROR_READING, stored=2)
    fake_bluez.add(cuff)
    await start_gateway(_settings(tmp_path, mosquitto, cuff), ble_collector)

    await eventually(lambda: ingest.count() == 8, what="two measurements")
    absent = [r for r in ingest.stored.values() if r.value is None]
    assert len(absent) == 4  # the first measurement failed: all four values NaN
    assert {r.absent_reason for r in absent} == {AbsentReason.NOT_A_NUMBER}
    assert all(r.value != 2047 for r in ingest.stored.values())


async def test_a_stranger_is_reported_as_seen_never_connected_nor_bonded(
    tmp_path, fake_bluez, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    cuff = _cuff(stored=1)
    stranger = _cuff(9, stored=1)
    fake_bluez.add(cuff)
    fake_bluez.add(stranger)
    running = await start_gateway(_settings(tmp_path, mosquitto, cuff), ble_collector)

    await eventually(lambda: ingest.count() == 4, what="the assigned cuff's readings")
    await eventually(
        lambda: _device(running, stranger.address).rssi is not None, what="the stranger heard"
    )
    assert all(call[1] != stranger.address for call in fake_bluez.called("Connect"))
    assert all(call[1] != stranger.address for call in fake_bluez.called("Pair"))
    # Were the stranger to ask for bonding, the agent says no.
    with pytest.raises(DBusError) as refused:
        await fake_bluez.run_async(
            fake_bluez.confirm_with_agent(fake_bluez.device(stranger.address).path)
        )
    assert refused.value.type == ERROR_AUTHENTICATION_REJECTED
    assert running.gateway.event_counts[EventKind.PAIRING_FAILED] == 1


async def test_clock_far_off_is_reported_and_set(
    tmp_path, fake_bluez, mosquitto, stub_ingest, start_gateway
):
    stub_ingest()
    cuff = _cuff(stored=1)
    now = utc_now()
    clock = cuff.monitor.clock
    clock.set(clock.read(now) - timedelta(hours=2), now=now)
    fake_bluez.add(cuff)
    running = await start_gateway(_settings(tmp_path, mosquitto, cuff), ble_collector)

    await eventually(lambda: len(cuff.clock_writes) == 1, what="the clock write")
    skew = [e for e in running.gateway.events if e.kind is EventKind.CLOCK_SKEW]
    assert len(skew) == 1
    # Two hours behind, give or take the second the Date Time resolution can lose.
    assert re.search(r"device clock is (1:59:59|2:00:00|2:00:01) behind", skew[0].detail)
    assert abs(clock.read(utc_now()) - utc_now().replace(tzinfo=None)) < timedelta(seconds=5)


async def test_connections_are_bounded(tmp_path, fake_bluez, mosquitto, stub_ingest, start_gateway):
    ingest = stub_ingest()
    oximeters = [_oximeter(20 + i, stored=0, samples=60, sample_period=0.02) for i in range(3)]
    for oximeter in oximeters:
        fake_bluez.add(oximeter)
    settings = _settings(tmp_path, mosquitto, *oximeters)
    settings = replace(settings, ble=replace(settings.ble, max_connections=2))
    await start_gateway(settings, ble_collector)

    await eventually(lambda: ingest.count() == 3 * 60 * 3, what="every stream")
    assert all(o.sessions == 1 for o in oximeters)
    assert fake_bluez.most_connected == 2
