"""``telecare bench api`` runs with nothing configured: it starts its own database."""

from __future__ import annotations

import os

from ingest.settings import DATABASE_URL
from telecare.bench import api


def test_the_api_bench_measures_both_requests_on_a_private_database():
    environ = {
        **{name: value for name, value in os.environ.items() if name != DATABASE_URL},
        api.DAYS_VARIABLE: "1",
        api.REQUESTS_VARIABLE: "10",
        api.PATIENTS_VARIABLE: "60",
        # 1 day in 48 points: 30-minute buckets, read from the rollup like a 30-day chart.
        api.POINTS_VARIABLE: "48",
    }
    table = api.run(environ).splitlines()
    assert "a private PostgreSQL" in table[0]
    assert "(fsync on)" in table[0]
    assert "60 patients" in table[0]
    rows = [line.split(" | ") for line in table if line.startswith(("| triage", "| 1-day"))]
    assert [(row[0], int(row[1])) for row in rows] == [
        ("| triage list", 1),
        ("| triage list", 4),
        ("| triage list", 8),
        ("| 1-day SpO2 chart", 1),
        ("| 1-day SpO2 chart", 4),
        ("| 1-day SpO2 chart", 8),
    ]
    for row in rows:
        p50, p95, p99, per_second = (float(cell) for cell in row[2:6])
        floor_p50, floor_p95 = (float(cell) for cell in row[7].split(" / "))
        assert 0 < p50 <= p95 <= p99
        assert per_second > 0
        assert 0 <= floor_p50 <= floor_p95
        assert floor_p95 > 0
    assert table[-1].startswith("For comparison, the same chart aggregated from the raw readings")
