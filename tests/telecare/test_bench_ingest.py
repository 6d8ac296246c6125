"""``telecare bench ingest`` runs with nothing configured: it starts its own servers."""

from __future__ import annotations

import os

from ingest.settings import DATABASE_URL, MQTT_URL
from telecare.bench import ingest


def test_the_ingest_bench_starts_private_servers_when_none_are_configured():
    environ = {
        **{
            name: value
            for name, value in os.environ.items()
            if name not in (DATABASE_URL, MQTT_URL)
        },
        ingest.READINGS_VARIABLE: "1000",
        ingest.ROUNDS_VARIABLE: "1",
        ingest.PROCESSES_VARIABLE: "1",
    }
    table = ingest.run(environ).splitlines()
    assert "a private PostgreSQL" in table[0]
    assert "fsync on" in table[0]
    assert "a private Mosquitto" in table[0]
    assert "1,000 readings" in table[0]
    rows = [line for line in table if line.startswith(("| floor", "| end"))]
    assert [row.split(" | ")[0] for row in rows] == [
        "| floor: binary COPY, same rows, same table",
        "| end to end, 1 ingest process",
    ]
    runs = [line for line in table if line.startswith("- ")]
    assert len(runs) == 2
