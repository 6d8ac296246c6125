"""``telecare bench alerts`` runs with nothing configured: it starts its own servers."""

from __future__ import annotations

import os

from ingest.settings import DATABASE_URL, MQTT_URL
from telecare.bench import alerts


def test_the_alerts_bench_measures_both_load_levels_on_private_servers():
    environ = {
        **{
            name: value
            for name, value in os.environ.items()
            if name not in (DATABASE_URL, MQTT_URL)
        },
        alerts.READINGS_VARIABLE: "2000",
        alerts.PROBES_VARIABLE: "10",
    }
    table = alerts.run(environ).splitlines()
    assert "a private PostgreSQL" in table[0]
    assert "(fsync on)" in table[0]
    assert "a private Mosquitto" in table[0]
    assert "2,000 SpO2 readings" in table[0]
    rows = [line.split(" | ") for line in table if line.startswith(("| flood", "| paced"))]
    assert [(row[0].split(":")[0], row[1]) for row in rows] == [
        ("| flood", "floor: publish to app ack (committed)"),
        ("| flood", "publish to red alert row visible"),
        ("| paced", "floor: publish to app ack (committed)"),
        ("| paced", "publish to red alert row visible"),
    ]
    for row in rows:
        rate = float(row[0].split(": ")[1].removesuffix(" readings/s").replace(",", ""))
        probes, p50, p99, worst = (float(cell.replace(",", "")) for cell in row[2:6])
        assert rate > 0
        assert probes >= 1
        assert 0 <= p50 <= p99 <= worst
        assert worst > 0
    verdicts = [line for line in table if line.startswith("Target p99 < 2 s")]
    assert len(verdicts) == 2
