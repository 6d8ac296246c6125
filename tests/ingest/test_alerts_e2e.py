"""End to end: simulated households -> MQTT -> the ingest service -> the alerts clinicians see.

Real Mosquitto, real PostgreSQL, the real ingest service on a thread. Each household is
the device simulator's (devices/simulator), decoded by ``devices`` as a gateway would,
batched like the gateway's outbox and published by a gateway double. What the scenarios
promise (devices/simulator/scenario.py ``expect``) is what the alerts must say.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg

from devices import Decoder
from devices.decoder import READING_DECODERS
from devices.reading import Kind, Reading, utc_now
from devices.simulator.household import Household, Schedule
from devices.simulator.scenario import Scenario
from gateway.contract import ReadingsBatch
from ingest.alert import Audience
from ingest.monitoring_plan import enrol, load_threshold_book
from ingest.program import Program
from ingest.rules.observation import UNRELIABLE_FLAGS
from ingest.rules.settings import RuleSettings
from ingest.rules.sustained import Sample, sustained_candidates
from tests.ingest.alerting import add_gateway, alerts
from tests.ingest.gateway_double import batch, wait_until
from tests.ingest.seed import add_device, add_organization, add_patient, assign

# A quarter of an hour of household life, ending about now: recent enough that no reading
# is late (RuleSettings.late_after), long enough for a whole desaturation episode.
DURATION = timedelta(minutes=15)
# One cuff measurement a minute in, one spot-check far beyond the window: the stream
# alone must carry the desaturation alert.
SCHEDULE = Schedule(
    blood_pressure_first=timedelta(minutes=1),
    spot_check_first=timedelta(days=1),
    connect_after=timedelta(seconds=5),
)
# The gateway outbox's batch size (GatewayConfig default, reference perf.md 3.2).
BATCH = 50


def household_readings(scenario: Scenario, *, seed: int = 3) -> tuple[Household, list[Reading]]:
    start = utc_now() - DURATION - timedelta(seconds=30)
    home = Household(seed=seed, start=start, scenarios=scenario)
    decoders: dict[str, Decoder] = {}
    readings: list[Reading] = []
    for event in home.events(DURATION, schedule=SCHEDULE):
        if event.characteristic not in READING_DECODERS:
            continue
        decoder = decoders.setdefault(event.address, Decoder(device_id=event.address))
        readings += decoder.decode(event.characteristic, event.data, received_at=event.at)
    return home, readings


def seed(conn, home: Household, program: Program) -> int:
    org = add_organization(conn)
    patient = add_patient(conn, org)
    since = home.start - timedelta(days=1)
    for device in (home.monitor.address, home.oximeter.address):
        add_device(conn, org, device)
        assign(conn, device, patient, since)
    add_gateway(conn, org, "gw-home")
    conn.commit()
    enrol(conn, patient, program, at=since)
    conn.commit()
    return patient


def in_batches(readings: list[Reading]) -> Iterator[ReadingsBatch]:
    ordered = sorted(readings, key=lambda r: r.measured_at)
    for first in range(0, len(ordered), BATCH):
        yield batch("gw-home", ordered[first : first + BATCH])


def run(scenario, program, database_url, make_settings, start_ingest, make_gateway, **settings):
    home, readings = household_readings(scenario)
    with psycopg.connect(database_url) as conn:
        patient = seed(conn, home, program)
    processes = [start_ingest(make_settings(**c)) for c in settings.get("processes", [{}])]
    gateway = make_gateway("gw-home")
    batches = list(in_batches(readings))
    gateway.publish(batches)
    wait_until(
        lambda: len(set(gateway.acked_batch_ids())) == len(batches),
        what=f"{len(batches)} acked batches",
    )
    assert all(p.service.metrics().received > 0 for p in processes)  # each took a share
    with psycopg.connect(database_url) as conn:
        return patient, readings, alerts(conn)


def test_a_hypertensive_crisis_raises_red_blood_pressure_alerts(
    database_url, make_settings, start_ingest, make_gateway
):
    patient, _, found = run(
        Scenario.HYPERTENSIVE_CRISIS, Program.GENERAL, database_url, make_settings,
        start_ingest, make_gateway,
    )  # fmt: skip
    red = {(a.condition, a.severity.value) for a in found if a.severity == "red"}
    assert red == {("systolic_high", "red"), ("diastolic_high", "red")}
    assert all(a.patient_id == patient and a.audience is Audience.CLINICAL for a in found)
    assert not any(a.late for a in found)


def test_a_copd_desaturation_raises_one_red_sustained_spo2_alert(
    database_url, make_settings, start_ingest, make_gateway
):
    _, readings, found = run(
        Scenario.DESATURATION, Program.COPD, database_url, make_settings,
        start_ingest, make_gateway,
    )  # fmt: skip
    [alert] = found
    assert (alert.condition, alert.severity.value, alert.audience) == (
        "spo2_low",
        "red",
        Audience.CLINICAL,
    )
    below = [r for r in readings if r.kind is Kind.SPO2 and r.value is not None and r.value < 88]
    # The plateau (six minutes at or below 87 %) and the ramps' samples below 88 %.
    assert alert.breach_count == len(below) >= 6 * 60
    assert alert.worst_value == min(r.value for r in below if r.value is not None)


def test_motion_artefacts_raise_nothing(database_url, make_settings, start_ingest, make_gateway):
    _, readings, found = run(
        Scenario.MOTION_ARTEFACT, Program.GENERAL, database_url, make_settings,
        start_ingest, make_gateway,
    )  # fmt: skip
    dips = [r for r in readings if r.kind is Kind.SPO2 and r.value is not None and r.value < 92]
    assert dips  # the scenario did dip, flagged, and nobody was paged
    assert found == []


def test_two_ingest_processes_sharing_the_stream_raise_exactly_one_alert(
    database_url, make_settings, start_ingest, make_gateway
):
    patient, readings, found = run(
        Scenario.DESATURATION, Program.COPD, database_url, make_settings, start_ingest,
        make_gateway, processes=[{"shared_group": "alerts"}, {"shared_group": "alerts"}],
    )  # fmt: skip
    [alert] = found
    # The same count the rule gives the whole stream judged at once.
    with psycopg.connect(database_url) as conn:
        book = load_threshold_book(conn, [(patient, Kind.SPO2)], until=utc_now())
    samples = [
        Sample(
            measured_at=r.measured_at,
            value=r.value,
            usable=r.value is not None and not r.flags & UNRELIABLE_FLAGS,
            received_at=r.measured_at,
            new=True,
        )
        for r in readings
        if r.kind is Kind.SPO2 and r.continuous
    ]
    [whole] = sustained_candidates(patient, Kind.SPO2, samples, book, RuleSettings())
    assert (alert.condition, alert.severity.value, alert.breach_count) == (
        "spo2_low",
        "red",
        whole.count,
    )
