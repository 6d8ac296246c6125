"""The fallback broker: amqtt in a child process, for machines without Mosquitto (issue 8).

amqtt speaks only MQTT 3.1.1, so whoever starts it has its clients use 3.1.1 too
(``TELECARE_MQTT_PROTOCOL=3.1.1``, read by the gateway's, ingest's and the api's settings).
It keeps nothing on disk: no persistence, anonymous clients on the loopback listener
only. ``AmqttBroker`` has the lifecycle of ``Mosquitto`` (start, stop, kill, url, pid);
``python -m telecare.embedded.amqtt_broker --port N`` is the child it runs, which stops
cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from telecare.embedded.broker import answers_connect
from telecare.embedded.child import signal_and_wait

# amqtt starts in well under a second; importing it takes most of that.
_START_TIMEOUT = 20.0
_POLL_INTERVAL = 0.02
HOST = "127.0.0.1"


class AmqttBroker:
    """One amqtt broker process on a loopback port; its directory holds the console log."""

    def __init__(self, directory: Path, *, port: int, detached: bool = False) -> None:
        self.directory = directory
        self.port = port
        # As for Mosquitto: a Ctrl-C in the starter's terminal must not stop the broker
        # under clients that are still flushing; whoever started it stops it.
        self.detached = detached
        self.host = HOST
        self._process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.console_path = directory / "console.log"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        if self.running:
            raise RuntimeError("broker already running")
        with self.console_path.open("ab") as console:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, f"--port={self.port}"],
                stdout=console,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=self.detached,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"amqtt exited at start:\n{self.log()}")
            if answers_connect(self.host, self.port):
                return
            time.sleep(_POLL_INTERVAL)
        self.kill()
        raise RuntimeError(f"amqtt did not serve within {_START_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        signal_and_wait(self._process, signal.SIGTERM)

    def kill(self) -> None:
        signal_and_wait(self._process, signal.SIGKILL)

    def log(self) -> str:
        return self.console_path.read_text(errors="replace") if self.console_path.exists() else ""


def broker_config(port: int) -> dict[str, object]:
    """amqtt's config: one loopback TCP listener, anonymous clients allowed.

    Listing the plugins replaces amqtt's defaults, which include ``BrokerSysPlugin``
    ($SYS topics), whose loading warns that psutil becomes optional (amqtt 0.12).
    """
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{HOST}:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


async def _serve(port: int) -> None:
    # Only the child process loads amqtt; amqtt 0.12 ships no py.typed marker.
    from amqtt.broker import Broker  # type: ignore[import-untyped]

    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    broker = Broker(broker_config(port))
    await broker.start()
    try:
        await stopped.wait()
    finally:
        await broker.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
