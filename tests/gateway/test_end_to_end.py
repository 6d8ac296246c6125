"""Gateway -> Mosquitto -> the real ingest -> PostgreSQL, with the faults the issue names.

The database is the judge: every produced reading is a row in ``readings`` and nothing
else is (a reading sent twice with a new identity would be an extra row; one stored
twice is impossible by the table's key, so the count must match exactly), and no
``reading_conflicts`` row says a resend changed a value.
"""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from devices import decode
from devices.simulator.blood_pressure_monitor import SimulatedBloodPressureMonitor
from devices.simulator.pulse_oximeter import SimulatedPulseOximeter
from devices.uuids import Characteristic
from gateway.contract import DeviceAssignment
from gateway.service import ble_collector
from ingest.service import IngestService
from ingest.settings import Broker, IngestSettings
from tests.fixtures.bluez_devices import BloodPressureCuff, Oximeter, physiology
from tests.fixtures.mosquitto import Mosquitto
from tests.gateway import gateway_process
from tests.gateway.harness import (
    TIMEOUT,
    collecting,
    eventually,
    interleaved,
    settings_for_test,
    spo2_readings,
    start_process,
    systolic_readings,
    wait_until,
)

# Ingest flushes at least this often in tests (seconds; production waits longer).
INGEST_MAX_DELAY = 0.1


class RunningIngest:
    def __init__(self, settings: IngestSettings) -> None:
        self.service = IngestService(settings)
        self.service.start()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.service.run, args=(self._stop,))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT)
        self.service.close()


@pytest.fixture
def ingest(mosquitto: Mosquitto, database_url: str) -> Iterator[RunningIngest]:
    running = RunningIngest(
        IngestSettings(
            database_url=database_url,
            broker=Broker.from_url(mosquitto.url),
            client_id=f"ingest-{uuid.uuid4().hex[:8]}",
            max_delay=INGEST_MAX_DELAY,
        )
    )
    yield running
    running.stop()


@pytest.fixture
def rows(database_url: str) -> Callable[[str], int]:
    def count(query: str) -> int:
        with psycopg.connect(database_url, autocommit=True) as conn:
            found = conn.execute(query).fetchone()
            return 0 if found is None else int(found[0])

    return count


def _stored(rows: Callable[[str], int], device_id: str) -> int:
    return rows(f"SELECT count(*) FROM readings WHERE device_id = '{device_id}'")


async def test_bluetooth_devices_to_the_database(
    tmp_path, fake_bluez, mosquitto, ingest, rows, database_url, start_gateway
):
    cuff = BloodPressureCuff(monitor=SimulatedBloodPressureMonitor(physiology(1)), stored=3)
    oximeter = Oximeter(oximeter=SimulatedPulseOximeter(physiology(2)), stored=4, samples=20)
    fake_bluez.add(cuff)
    fake_bluez.add(oximeter)
    devices = tuple(DeviceAssignment(device_id=d.address) for d in (cuff, oximeter))
    settings = settings_for_test(tmp_path, mosquitto, devices=devices)
    await start_gateway(settings, ble_collector)

    await eventually(lambda: _stored(rows, cuff.address) == 12, what="the cuff's readings")
    await eventually(lambda: _stored(rows, oximeter.address) == 72, what="the oximeter's")
    with psycopg.connect(database_url, autocommit=True) as conn:
        stored = set(
            conn.execute(
                "SELECT kind, measured_at, value FROM readings WHERE device_id = %s",
                (cuff.address,),
            ).fetchall()
        )
    expected = {
        (r.kind.value, r.measured_at, r.value)
        for data in cuff.sent
        for r in decode(Characteristic.BLOOD_PRESSURE_MEASUREMENT, data, device_id=cuff.address)
    }
    assert stored == expected
    assert rows("SELECT count(*) FROM quarantined_readings") == 0


def test_gateway_killed_mid_publish_nothing_lost_nothing_doubled(tmp_path, mosquitto, ingest, rows):
    produced = gateway_process.readings(1000)
    first = start_process(tmp_path, mosquitto, len(produced), held_before_publishing=True)
    try:
        wait_until(lambda: rows("SELECT count(*) FROM readings") >= 150, what="first rows")
        first.send_signal(signal.SIGKILL)
        first.wait(TIMEOUT)
    finally:
        first.kill()
    assert rows("SELECT count(*) FROM readings") < len(produced)

    second = start_process(tmp_path, mosquitto, 0)
    try:
        wait_until(lambda: rows("SELECT count(*) FROM readings") >= len(produced), what="every row")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(TIMEOUT)
    assert rows("SELECT count(*) FROM readings") == len(produced)
    assert rows("SELECT count(*) FROM reading_conflicts") == 0


async def test_broker_killed_mid_stream_every_reading_stored_once(
    tmp_path, mosquitto, ingest, rows, start_gateway
):
    produced = interleaved(
        spo2_readings("C0:00:00:00:00:11", 500), systolic_readings("C0:00:00:00:00:12", 500)
    )
    settings = settings_for_test(tmp_path, mosquitto, batch_size=20)
    await start_gateway(settings, collecting(produced, chunk=10, pause=0.01))
    await eventually(lambda: rows("SELECT count(*) FROM readings") >= 200, what="part of it")

    mosquitto.kill()
    mosquitto.start()

    await eventually(
        lambda: rows("SELECT count(*) FROM readings") >= len(produced), what="every row"
    )
    assert rows("SELECT count(*) FROM readings") == len(produced)
    assert rows("SELECT count(*) FROM reading_conflicts") == 0
