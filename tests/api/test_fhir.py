"""FHIR R4: resources validated by fhir.resources (R4B models), search, Bulk Data export."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from api.errors import InvalidError
from api.fhir import codes, search
from api.fhir.resources import ReadingRow, device_fhir_id, observations
from devices.reading import AbsentReason, Flag, Kind, Unit
from tests.api.conftest import bearer, mint
from tests.api.world import T0

T = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def row(kind: Kind, value: float | None, unit: Unit, **changes) -> ReadingRow:
    fields = {
        "patient_id": 7,
        "device_id": "AA:BB:CC:DD:EE:FF",
        "kind": kind,
        "value": value,
        "unit": unit,
        "absent_reason": None if value is not None else AbsentReason.NOT_A_NUMBER,
        "flags": frozenset(),
        "measured_at": T,
    }
    return ReadingRow(**{**fields, **changes})


def codings(resource, path="code") -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in resource[path]["coding"]}


def test_a_cuff_measurement_is_one_panel_with_components():
    rows = [
        row(Kind.SYSTOLIC, 142.0, Unit.MMHG),
        row(Kind.DIASTOLIC, 88.0, Unit.MMHG),
        row(Kind.MEAN_ARTERIAL_PRESSURE, 106.0, Unit.MMHG),
        row(Kind.PULSE_RATE, 71.0, Unit.PER_MINUTE, flags=frozenset({Flag.IRREGULAR_PULSE})),
    ]
    panel, pulse = observations(rows)
    Observation.model_validate(panel)
    Observation.model_validate(pulse)
    assert codings(panel) == {(codes.LOINC, "85354-9"), (codes.MDC, "150020")}
    assert panel["meta"]["profile"] == [
        codes.VITAL_SIGNS,
        "http://hl7.org/fhir/StructureDefinition/bp",
    ]
    assert [c["valueQuantity"]["value"] for c in panel["component"]] == [142.0, 88.0, 106.0]
    assert codings(panel["component"][0]) == {
        (codes.LOINC, "8480-6"),
        (codes.MDC, "150021"),
        (codes.NPU, "DNK05472"),
    }
    assert panel["component"][0]["valueQuantity"] == {
        "value": 142.0,
        "unit": "mm[Hg]",
        "system": "http://unitsofmeasure.org",
        "code": "mm[Hg]",
    }
    assert panel["device"] == {"reference": f"Device/{device_fhir_id('AA:BB:CC:DD:EE:FF')}"}
    assert codings(pulse) == {
        (codes.LOINC, "8867-4"),
        (codes.MDC, "149546"),
        (codes.NPU, "NPU21692"),
    }
    assert pulse["note"] == [{"text": "device status: irregular_pulse"}]


def test_absent_values_and_status_flags_as_the_phd_guide_maps_them():
    flags = frozenset({Flag.QUESTIONABLE, Flag.LOW_PERFUSION, Flag.SENSOR_DISPLACED})
    [spo2] = observations([row(Kind.SPO2, None, Unit.PERCENT, flags=flags)])
    Observation.model_validate(spo2)
    assert "valueQuantity" not in spo2
    assert spo2["dataAbsentReason"]["coding"] == [
        {"system": codes.DATA_ABSENT_REASON, "code": "not-a-number"}
    ]
    assert codings(spo2) >= {
        (codes.LOINC, "2708-6"),
        (codes.LOINC, "59408-5"),
        (codes.MDC, "150456"),
    }
    assert [c["valueCodeableConcept"]["coding"] for c in spo2["component"]] == [
        [{"system": codes.ASN1, "code": "67911.1"}],
        [{"system": codes.ASN1, "code": "150604.2"}, {"system": codes.ASN1, "code": "150604.10"}],
    ]


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (AbsentReason.NOT_A_NUMBER, "not-a-number"),
        (AbsentReason.POSITIVE_INFINITY, "positive-infinity"),
        (AbsentReason.NEGATIVE_INFINITY, "negative-infinity"),
        (AbsentReason.NOT_AT_THIS_RESOLUTION, "error"),
        (AbsentReason.RESERVED_VALUE, "error"),
        (AbsentReason.DEVICE_INVALID, "error"),
    ],
)
def test_every_absent_reason_maps(reason, code):
    [found] = observations([row(Kind.PULSE_RATE, None, Unit.PER_MINUTE, absent_reason=reason)])
    assert found["dataAbsentReason"]["coding"][0]["code"] == code


def test_ids_are_fhir_ids_and_stable():
    assert device_fhir_id("bp-a") == "bp-a"
    hashed = device_fhir_id("AA:BB:CC:DD:EE:FF")
    assert hashed.startswith("h-")
    assert len(hashed) == 42
    first = observations([row(Kind.SPO2, 97.0, Unit.PERCENT)])[0]["id"]
    assert first == observations([row(Kind.SPO2, 97.0, Unit.PERCENT)])[0]["id"]
    assert len(first) <= 64


def test_patient_read_and_search(client, headers, world):
    found = client.get(f"/fhir/Patient/{world.patients['a']}", headers=headers("nurse_a"))
    assert found.status_code == 200
    assert found.headers["content-type"] == "application/fhir+json"
    patient = Patient.model_validate(found.json())
    assert patient.name is not None
    assert patient.name[0].text == "Anna Andersen"
    assert found.json()["identifier"] == [
        {"system": codes.CPR, "value": f"0101{world.patients['a']:06d}"}
    ]
    bundle = client.get("/fhir/Patient", headers=headers("clinician_c")).json()
    Bundle.model_validate(bundle)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(world.patients["c"])]
    assert (
        client.get(f"/fhir/Patient/{world.patients['b']}", headers=headers("nurse_a")).status_code
        == 404
    )
    assert client.get("/fhir/Patient", headers=headers("fleet_m1")).status_code == 403


def test_observation_search_by_patient_code_and_date(client, headers, world):
    nurse = headers("nurse_a")
    everything = client.get(
        "/fhir/Observation", params={"patient": world.patients["a"]}, headers=nurse
    )
    bundle = everything.json()
    Bundle.model_validate(bundle)
    panels = [e for e in bundle["entry"] if (codes.LOINC, "85354-9") in codings(e["resource"])]
    assert len(bundle["entry"]) == 12 * 3  # 12 panels, 12 pulse rates, 12 SpO2
    assert len(panels) == 12
    spo2 = client.get(
        "/fhir/Observation",
        params={
            "patient": f"Patient/{world.patients['a']}",
            "code": "urn:iso:std:iso:11073:10101|150456",
        },
        headers=nurse,
    ).json()
    assert len(spo2["entry"]) == 12
    window = client.get(
        "/fhir/Observation",
        params=[
            ("patient", world.patients["a"]),
            ("code", "2708-6"),
            ("date", "ge" + T0.isoformat()),
            ("date", "le" + T0.isoformat()),
        ],
        headers=nurse,
    ).json()
    assert [e["resource"]["effectiveDateTime"] for e in window["entry"]] == ["2026-11-28T06:00:00Z"]
    foreign = client.get(
        "/fhir/Observation", params={"patient": world.patients["c"]}, headers=nurse
    )
    assert foreign.json()["total"] == 0
    bad = client.get("/fhir/Observation", params={"date": "ge2026-13-01"}, headers=nurse)
    assert bad.status_code == 422


def test_device_read_and_search(client, headers, world):
    bundle = client.get(
        "/fhir/Device", params={"patient": world.patients["a"]}, headers=headers("nurse_a")
    ).json()
    Bundle.model_validate(bundle)
    assert sorted(e["resource"]["id"] for e in bundle["entry"]) == ["bp-a", "ox-a"]
    device = client.get("/fhir/Device/bp-a", headers=headers("patient_a")).json()
    Device.model_validate(device)
    assert device["patient"] == {"reference": f"Patient/{world.patients['a']}"}
    assert client.get("/fhir/Device/bp-c", headers=headers("nurse_a")).status_code == 404


def test_bulk_export(fresh_client, fresh_world_db):
    world = fresh_world_db.world
    nurse = bearer(mint(world, "nurse_a"))
    kickoff = fresh_client.get("/fhir/$export", headers={**nurse, "Prefer": "respond-async"})
    assert kickoff.status_code == 202
    status_url = kickoff.headers["content-location"]
    other = fresh_client.get(status_url, headers=bearer(mint(world, "clinician_a")))
    assert other.status_code == 404
    deadline = time.monotonic() + 30
    while (status := fresh_client.get(status_url, headers=nurse)).status_code == 202:
        assert "x-progress" in status.headers
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status.status_code == 200
    manifest = status.json()
    assert manifest["requiresAccessToken"] is True
    counts = {o["type"]: o["count"] for o in manifest["output"]}
    assert counts == {"Patient": 1, "Device": 2, "Observation": 36}
    models: dict[str, type[Patient | Device | Observation]] = {
        "Patient": Patient,
        "Device": Device,
        "Observation": Observation,
    }
    for output in manifest["output"]:
        download = fresh_client.get(output["url"], headers=nurse)
        assert download.headers["content-type"].startswith("application/fhir+ndjson")
        lines = download.text.splitlines()
        assert len(lines) == output["count"]
        for line in lines:
            models[output["type"]].model_validate(json.loads(line))
    assert fresh_client.delete(status_url, headers=nurse).status_code == 202
    assert fresh_client.get(status_url, headers=nurse).status_code == 404
    assert (
        fresh_client.get("/fhir/$export", params={"_type": "Nope"}, headers=nurse).status_code
        == 422
    )
    assert (
        fresh_client.get("/fhir/$export", headers=bearer(mint(world, "fleet_m1"))).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], (None, None)),
        (
            ["2026-11-28"],
            (datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),
        ),
        (
            ["ge2026-11-01", "lt2026-12-01"],
            (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        ),
        (["gt2026-11-01"], (datetime(2026, 11, 2, tzinfo=UTC), None)),
        (["le2026-11-01T10:00:00+01:00"], (None, datetime(2026, 11, 1, 9, 0, 0, 1, tzinfo=UTC))),
    ],
    ids=["none", "a-day", "a-month", "after-a-day", "up-to-an-instant"],
)
def test_date_search_parameters(values, expected):
    assert search.date_range(values) == expected


@pytest.mark.parametrize("value", ["ge2026-13-01", "2026-11-01T10:00:00", "tomorrow"])
def test_bad_dates_are_invalid(value):
    with pytest.raises(InvalidError):
        search.date_range([value])


@pytest.mark.parametrize(
    ("code", "kinds"),
    [
        (None, list(codes.OBSERVED_KINDS)),
        ("http://loinc.org|85354-9", [Kind.SYSTOLIC, Kind.DIASTOLIC, Kind.MEAN_ARTERIAL_PRESSURE]),
        ("2708-6", [Kind.SPO2]),
        ("urn:oid:1.2.208.176.2.1|NPU21692", [Kind.PULSE_RATE]),
        ("http://loinc.org|150456", []),
        ("8480-6,8462-4", [Kind.SYSTOLIC, Kind.DIASTOLIC]),
    ],
    ids=["all", "bp-panel", "spo2-loinc", "pulse-npu", "system-mismatch", "two-codes"],
)
def test_code_search_parameters(code, kinds):
    assert search.kinds(code) == kinds
