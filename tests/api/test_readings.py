"""Readings of a patient: raw, chart series, CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest

from api.queries.readings import bucket_width
from tests.api.world import READINGS_PER_KIND, T0

Z = "+00:00"


def iso(at: datetime) -> str:
    return at.isoformat().replace(Z, "Z")


RANGE = {"since": iso(T0 - timedelta(days=1)), "until": iso(T0 + timedelta(hours=1))}


def test_raw_readings_newest_first(client, headers, world):
    response = client.get(
        f"/patients/{world.patients['a']}/readings",
        params={**RANGE, "kind": "spo2", "limit": 2},
        headers=headers("nurse_a"),
    )
    assert response.status_code == 200
    assert response.json() == [
        {
            "kind": "spo2",
            "value": 93.0 + READINGS_PER_KIND - 1,
            "unit": "%",
            "absent_reason": None,
            "measured_at": iso(T0),
            "device_id": "ox-a",
            "flags": [],
        },
        {
            "kind": "spo2",
            "value": 93.0 + READINGS_PER_KIND - 2,
            "unit": "%",
            "absent_reason": None,
            "measured_at": iso(T0 - timedelta(hours=1)),
            "device_id": "ox-a",
            "flags": [],
        },
    ]


def test_a_patient_reads_their_own_readings_only(client, headers, world):
    own = client.get(
        f"/patients/{world.patients['a']}/readings", params=RANGE, headers=headers("patient_a")
    )
    assert own.status_code == 200
    assert len(own.json()) == 4 * READINGS_PER_KIND
    other = client.get(
        f"/patients/{world.patients['b']}/readings", params=RANGE, headers=headers("patient_a")
    )
    assert other.status_code == 404


def test_series_buckets_are_min_avg_max(client, headers, world):
    response = client.get(
        f"/patients/{world.patients['a']}/readings/series",
        params={
            "kind": "systolic",
            "since": iso(T0 - timedelta(hours=11)),
            "until": iso(T0 + timedelta(hours=1)),
            "points": 3,
        },
        headers=headers("clinician_a"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["bucket_seconds"] == 4 * 3600
    assert body["source"] == "reading_rollups_15m"
    # Systolic values 140..151, one an hour from T0-11h: buckets of four.
    assert body["points"] == [
        {
            "start": iso(T0 - timedelta(hours=11)),
            "min": 140.0,
            "avg": 141.5,
            "max": 143.0,
            "count": 4,
        },
        {
            "start": iso(T0 - timedelta(hours=7)),
            "min": 144.0,
            "avg": 145.5,
            "max": 147.0,
            "count": 4,
        },
        {
            "start": iso(T0 - timedelta(hours=3)),
            "min": 148.0,
            "avg": 149.5,
            "max": 151.0,
            "count": 4,
        },
    ]


def test_series_points_are_bounded(client, headers, world):
    too_many = client.get(
        f"/patients/{world.patients['a']}/readings/series",
        params={**RANGE, "kind": "spo2", "points": 5000},
        headers=headers("nurse_a"),
    )
    assert too_many.status_code == 422


@pytest.mark.parametrize(
    ("span", "points", "aggregate", "expected"),
    [
        (timedelta(days=30), 1000, False, timedelta(seconds=2592)),
        (timedelta(days=30), 1000, True, timedelta(minutes=45)),
        (timedelta(hours=1), 1000, True, timedelta(seconds=4)),
        (timedelta(seconds=10), 1000, False, timedelta(seconds=1)),
    ],
    ids=["raw-30-days", "aggregate-30-days", "short-range-stays-raw", "at-least-a-second"],
)
def test_bucket_width(span, points, aggregate, expected):
    width = bucket_width(T0, T0 + span, points, aggregate=aggregate)
    assert width == expected
    assert span / width <= points


def test_csv_export(client, headers, world):
    response = client.get(
        f"/patients/{world.patients['b']}/readings.csv",
        params={**RANGE, "kind": "diastolic"},
        headers=headers("clinician_b"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "measured_at",
        "kind",
        "value",
        "unit",
        "absent_reason",
        "device_id",
        "flags",
    ]
    assert len(rows) == 1 + READINGS_PER_KIND
    assert rows[-1] == [T0.isoformat(), "diastolic", "96.0", "mm[Hg]", "", "bp-b", ""]


def test_ranges_are_validated(client, headers, world):
    url = f"/patients/{world.patients['a']}/readings"
    backwards = {"since": RANGE["until"], "until": RANGE["since"]}
    assert client.get(url, params=backwards, headers=headers("nurse_a")).status_code == 422
    naive = {"since": "2026-11-01T00:00:00"}
    assert client.get(url, params=naive, headers=headers("nurse_a")).status_code == 422
    huge = {"since": "2020-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    assert client.get(url, params=huge, headers=headers("nurse_a")).status_code == 422
