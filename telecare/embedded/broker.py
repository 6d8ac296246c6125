"""A private Mosquitto broker: a generated config, a loopback port, a directory of its own.

The directory holds config, persistence and logs; ``stop`` is graceful (SIGTERM: the
broker saves its persistence file), ``kill`` is a crash (SIGKILL: it does not), and
``start`` runs it again on the same port with the same persistence directory.

The config raises ``max_queued_messages``: with Mosquitto's default of 1000 a
subscriber that falls behind or is offline loses QoS 1 messages silently, with only a
NOTICE log line (reference measurements: 500 of 1500 lost; mosquitto.conf(5)
``max_queued_messages``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from telecare.embedded.child import signal_and_wait

# Debian installs the broker in /usr/sbin, which is not on every user's PATH.
_SEARCH_PATH = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"))
# Bounds on starting and stopping; a healthy broker needs a few milliseconds.
_START_TIMEOUT = 10.0
_POLL_INTERVAL = 0.02
# MQTT 3.1.1 CONNECT, clean session, keepalive 60 s, client id "probe" (section 3.1),
# and the CONNACK packet type it must answer with (section 3.2): any return code will do,
# the probe only asks whether the broker is serving MQTT yet.
_PROBE_CONNECT = b"\x10\x11\x00\x04MQTT\x04\x02\x00\x3c\x00\x05probe"
_CONNACK = 0x20
# Sent after the probe's CONNACK so the broker logs a clean disconnect, not an error.
_DISCONNECT = b"\xe0\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerConfig:
    """What a test may change in the generated mosquitto.conf."""

    allow_anonymous: bool = True
    persistence: bool = True
    # mosquitto.conf(5) default; the persistence file is written at graceful exit.
    autosave_interval: int = 1800
    # Raised from Mosquitto's 1000 so a slow or offline subscriber loses nothing here.
    max_queued_messages: int = 100_000
    # Mosquitto's default (20): MQTT 3.1.1 consumers live with it; MQTT 5 consumers
    # set their own window with Receive Maximum.
    max_inflight_messages: int = 20
    # Further raw config lines (password_file, acl_file, TLS ...).
    extra: tuple[str, ...] = ()


class Mosquitto:
    """One broker process; its directory holds config, persistence and logs."""

    def __init__(
        self, directory: Path, *, port: int, config: BrokerConfig, detached: bool = False
    ) -> None:
        self.directory = directory
        self.port = port
        self.config = config
        # In a session of its own: a Ctrl-C in the starter's terminal (or a signal to its
        # process group) must not stop the broker under clients that are still flushing;
        # whoever started it stops it (``telecare demo``).
        self.detached = detached
        self.host = "127.0.0.1"
        self._process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path = directory / "mosquitto.conf"
        self.log_path = directory / "mosquitto.log"
        self.console_path = directory / "console.log"
        self.config_path.write_text(self._render())

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError("broker already running")
        with self.console_path.open("ab") as console:
            self._process = subprocess.Popen(
                [_executable(), "-c", str(self.config_path)],
                stdout=console,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=self.detached,
            )
        self._wait_until_serving()

    def stop(self) -> None:
        """Graceful stop: the broker writes its persistence file on SIGTERM."""
        signal_and_wait(self._process, signal.SIGTERM)

    def kill(self) -> None:
        """A crash: SIGKILL, nothing saved since the last autosave."""
        signal_and_wait(self._process, signal.SIGKILL)

    def restart(self, *, kill: bool = False) -> None:
        self.kill() if kill else self.stop()
        self.start()

    def log(self) -> str:
        parts = (path.read_text(errors="replace") for path in (self.console_path, self.log_path))
        return "".join(part for part in parts)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start:\n{self.log()}")
            if answers_connect(self.host, self.port):
                return
            time.sleep(_POLL_INTERVAL)
        raise RuntimeError(f"mosquitto did not serve within {_START_TIMEOUT} s:\n{self.log()}")

    def _render(self) -> str:
        config = self.config
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {_flag(config.allow_anonymous)}",
            # Started as root, Mosquitto drops to user "mosquitto", which cannot write
            # (or even reach) a test's private temp directory; it would start fine and
            # only log "Error saving in-memory database ... Permission denied" at save
            # time. Running it as whoever runs the tests keeps one owner for the whole
            # directory; as a non-root user this line has no effect (mosquitto.conf(5)).
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            f"persistence {_flag(config.persistence)}",
            f"persistence_location {self.directory}/",
            f"autosave_interval {config.autosave_interval}",
            f"max_queued_messages {config.max_queued_messages}",
            f"max_inflight_messages {config.max_inflight_messages}",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            *config.extra,
        ]
        return "\n".join(lines) + "\n"


def answers_connect(host: str, port: int) -> bool:
    """Whether an MQTT broker answers a 3.1.1 CONNECT on ``host:port`` yet."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.sendall(_PROBE_CONNECT)
            answer = sock.recv(4)
            if answer[:1] == bytes([_CONNACK]):
                sock.sendall(_DISCONNECT)
                return True
    except OSError:
        pass
    return False


def mosquitto_installed() -> bool:
    return shutil.which("mosquitto", path=_SEARCH_PATH) is not None


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _executable() -> str:
    found = shutil.which("mosquitto", path=_SEARCH_PATH)
    if found is None:
        raise RuntimeError("mosquitto is not installed (scripts/system-deps installs it)")
    return found
