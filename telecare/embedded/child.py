"""Stopping a service the demo, the benchmarks or the tests started as a child process."""

from __future__ import annotations

import subprocess

# Seconds a child has to exit after a signal before it is killed.
STOP_TIMEOUT = 10.0


def signal_and_wait(process: subprocess.Popen[bytes] | None, signum: int) -> None:
    """Send ``signum`` to a running ``process`` and reap it; kill it if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)
