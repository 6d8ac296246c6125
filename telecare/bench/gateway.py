"""Gateway footprint: resident memory and CPU time per reading, simulated household load.

``telecare gateway run --simulate --households 2`` (4 devices: two cuffs, two oximeters
streaming at 1 Hz, spot-checks downloaded over RACP) runs as its own process for a few
minutes in real time against a broker, with a minimal consumer that acknowledges every
batch, as ingest would, so the outbox fills and drains as in production. The process's
CPU time and resident memory are read from /proc (Linux). Floors, on the same machine in
the same run:

- memory: a Python process that imports what the gateway imports and does nothing;
- CPU: one fsynced SQLite commit (WAL, synchronous=FULL) per decoded value, the least a
  gateway that keeps its durability promise must pay, without decoding or MQTT.

Targets (issue "Gateway"): under 80 MB resident and under 5 % of one core.
``TELECARE_BENCH_GATEWAY_SECONDS`` sets the duration (default 180); the broker is
``TELECARE_MQTT_URL`` when set, else a private Mosquitto (telecare/bench/servers.py).
"""

from __future__ import annotations

import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.settings import Broker
from telecare.bench.mqtt import Acker
from telecare.bench.servers import broker

DEFAULT_SECONDS = 180.0
HOUSEHOLDS = 2  # two cuffs and two oximeters: the "4 simulated devices"
TARGET_RSS_MB = 80.0
TARGET_CPU_SHARE = 0.05
# Linux /proc units: clock ticks per second for utime/stime, kB for VmRSS/VmHWM.
_TICKS = os.sysconf("SC_CLK_TCK")
_KB = 1024
_MB = 1024 * 1024
# Warm-up before the measured window, so start-up (imports, first connect) is left out.
_WARM_UP = 10.0
_RUN_COMMAND = (
    "import argparse, sys\n"
    "from telecare.commands import gateway\n"
    "parser = argparse.ArgumentParser(prog='telecare')\n"
    "gateway.register(parser.add_subparsers(required=True))\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.handler(args))\n"
)
_IDLE_IMPORTS = (
    "import time, bleak, bleak_retry_connector, paho.mqtt.client, dbus_fast, sqlite3\n"
    "import devices, gateway.service, gateway.simulate\n"
    "print('ready', flush=True)\n"
    "time.sleep(3600)\n"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    cpu_seconds: float
    rss_mb: float
    peak_rss_mb: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    seconds: float
    readings: int
    cpu_seconds: float
    rss_mb: float
    peak_rss_mb: float
    idle_rss_mb: float
    floor_cpu_seconds: float

    @property
    def cpu_share(self) -> float:
        return self.cpu_seconds / self.seconds

    @property
    def cpu_us_per_reading(self) -> float:
        return self.cpu_seconds / self.readings * 1e6

    @property
    def floor_us_per_reading(self) -> float:
        return self.floor_cpu_seconds / self.readings * 1e6


def _sample(pid: int) -> Sample:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); after the ")" they are 12 and 13.
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return Sample(
        cpu_seconds=cpu,
        rss_mb=int(status["VmRSS"].split()[0]) * _KB / _MB,
        peak_rss_mb=int(status["VmHWM"].split()[0]) * _KB / _MB,
    )


def _idle_rss_mb() -> float:
    idle = subprocess.Popen(
        [sys.executable, "-c", _IDLE_IMPORTS], stdout=subprocess.PIPE, text=True
    )
    try:
        assert idle.stdout is not None
        idle.stdout.readline()
        return _sample(idle.pid).rss_mb
    finally:
        idle.kill()
        idle.wait(10)
        if idle.stdout is not None:
            idle.stdout.close()


def _floor_cpu_seconds(values: int, directory: Path) -> float:
    """CPU time of ``values`` fsynced single-row SQLite commits (the durability floor)."""
    db = sqlite3.connect(directory / "floor.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE reading (seq INTEGER PRIMARY KEY, body TEXT)")
    start = time.process_time()
    for n in range(values):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO reading (body) VALUES (?)", (f"{n:0200d}",))
        db.execute("COMMIT")
    used = time.process_time() - start
    db.close()
    return used


def measure(seconds: float) -> Result:
    with tempfile.TemporaryDirectory(prefix="telecare-bench-gateway-") as scratch:
        directory = Path(scratch)
        with broker(os.environ) as server:
            acker = Acker(Broker.from_url(server.url))
            environ = {
                **os.environ,
                "TELECARE_MQTT_URL": server.url,
                "TELECARE_GATEWAY_ID": "gw-bench",
                "TELECARE_GATEWAY_STATE_DIR": str(directory / "state"),
            }
            command = ["gateway", "run", "--simulate", "--households", str(HOUSEHOLDS)]
            gateway = subprocess.Popen(
                [sys.executable, "-c", _RUN_COMMAND, *command, "--log-level", "ERROR"],
                env=environ,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(_WARM_UP)
                first, readings_before = _sample(gateway.pid), acker.count()
                time.sleep(seconds)
                last, readings_after = _sample(gateway.pid), acker.count()
            finally:
                gateway.send_signal(signal.SIGTERM)
                gateway.wait(30)
                acker.close()
        readings = readings_after - readings_before
        # A decoded value yields about three readings (SpO2, pulse, PI; 4 for a cuff).
        floor = _floor_cpu_seconds(max(1, readings // 3), directory)
    return Result(
        seconds=seconds,
        readings=readings,
        cpu_seconds=last.cpu_seconds - first.cpu_seconds,
        rss_mb=last.rss_mb,
        peak_rss_mb=last.peak_rss_mb,
        idle_rss_mb=_idle_rss_mb(),
        floor_cpu_seconds=floor,
    )


def report(result: Result) -> str:
    verdict_rss = "met" if result.peak_rss_mb < TARGET_RSS_MB else "MISSED"
    verdict_cpu = "met" if result.cpu_share < TARGET_CPU_SHARE else "MISSED"
    return "\n".join(
        [
            f"Python {platform.python_version()} on {platform.machine()}; "
            f"{HOUSEHOLDS * 2} simulated devices, {result.seconds:.0f} s measured after "
            f"{_WARM_UP:.0f} s warm-up, {result.readings} readings acknowledged",
            "",
            "| what | gateway | floor | target |",
            "|---|---:|---:|---|",
            f"| resident memory, MB (peak) | {result.rss_mb:.1f} ({result.peak_rss_mb:.1f}) | "
            f"{result.idle_rss_mb:.1f} idle, same imports | < {TARGET_RSS_MB:.0f}: {verdict_rss} |",
            f"| CPU, share of one core | {result.cpu_share:.2%} | | "
            f"< {TARGET_CPU_SHARE:.0%}: {verdict_cpu} |",
            f"| CPU µs per reading | {result.cpu_us_per_reading:.0f} | "
            f"{result.floor_us_per_reading:.0f} fsynced commit per value | "
            f"ratio {result.cpu_us_per_reading / max(result.floor_us_per_reading, 1e-9):.1f}x |",
        ]
    )


def run(seconds: float | None = None) -> str:
    """Measure and return the Markdown report (``telecare bench gateway``)."""
    if seconds is None:
        seconds = float(os.environ.get("TELECARE_BENCH_GATEWAY_SECONDS", DEFAULT_SECONDS))
    return report(measure(seconds))
