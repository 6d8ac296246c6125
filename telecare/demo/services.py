"""The demo's child processes: start, watch, stop in order, and the pid file that lists them.

Each child is a ``telecare`` subcommand run by this interpreter in a session of its own,
so a Ctrl-C in the terminal reaches only the demo, which then stops the children itself,
stage by stage: the gateways together (they publish their "offline" status), then the
api, then ingest (it flushes and acks what is in flight). A child that ignores SIGTERM
for ``STOP_TIMEOUT`` seconds is killed.
Output goes to ``<data dir>/logs/<name>.log``. While the demo runs, ``demo.pid.json`` in
the data directory lists the demo's pid, every process it started (children, the
database server, the broker) and the URLs they answer on; it is removed at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

# Seconds a child gets to stop after SIGTERM; ingest's flush and a gateway's offline
# status need well under a second.
STOP_TIMEOUT = 10.0
PID_FILE = "demo.pid.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """``telecare <argv>`` with ``env`` added to the demo's own environment."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    # Services stop by stage, the highest first; those of one stage stop together.
    stage: int = 0

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"a service name is a file name, got {self.name!r}")
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))

    def command(self) -> list[str]:
        return [sys.executable, "-m", "telecare.cli", *self.argv]


class Services:
    """The running children, in start order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.log_dir = directory / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pid_file = directory / PID_FILE
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._stages: dict[str, int] = {}
        self._others: dict[str, int] = {}
        self._urls: dict[str, str] = {}

    def start(self, service: Service) -> None:
        with (self.log_dir / f"{service.name}.log").open("ab") as log:
            self._children[service.name] = subprocess.Popen(
                service.command(),
                env={**os.environ, **service.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._stages[service.name] = service.stage
        self._write_pid_file()

    def adopt(self, name: str, pid: int | None) -> None:
        """List a process the demo did not spawn here (the database, the broker)."""
        if pid is not None:
            self._others[name] = pid
            self._write_pid_file()

    def note_url(self, name: str, url: str) -> None:
        """List where a service answers (the pid file's ``urls``)."""
        self._urls[name] = url
        self._write_pid_file()

    def running(self, name: str) -> bool:
        return self._children[name].poll() is None

    def exited(self) -> dict[str, int]:
        """Children that are gone, with their exit codes."""
        return {
            name: code
            for name, child in self._children.items()
            if (code := child.poll()) is not None
        }

    def stop(self) -> None:
        """SIGTERM the children stage by stage, the highest first; SIGKILL who stays."""
        for stage in sorted(set(self._stages.values()), reverse=True):
            group = [child for name, child in self._children.items() if self._stages[name] == stage]
            for child in group:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in group:
                try:
                    child.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        self._children.clear()
        self._stages.clear()
        self._others.clear()
        self._urls.clear()
        self.pid_file.unlink(missing_ok=True)

    def _write_pid_file(self) -> None:
        processes = {name: child.pid for name, child in self._children.items()}
        text = json.dumps(
            {
                "demo": os.getpid(),
                "processes": {**self._others, **processes},
                "urls": self._urls,
            }
        )
        self.pid_file.write_text(text + "\n")
