"""Fixtures for ingest tests against the real broker and the real database."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import psycopg
import pytest

from ingest.service import IngestService
from ingest.settings import Broker, IngestSettings
from tests.fixtures.mosquitto import Mosquitto
from tests.ingest.gateway_double import GatewayDouble

# Short delays keep the tests fast; the defaults are for production.
TEST_MAX_DELAY = 0.1
_JOIN_TIMEOUT = 30.0


class RunningIngest:
    """An ingest service on a thread of the test process."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.service = IngestService(settings)
        self._stop = threading.Event()
        self.service.start()
        self._thread = threading.Thread(target=self.service.run, args=(self._stop,))
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(_JOIN_TIMEOUT)
            assert not self._thread.is_alive(), "ingest did not stop"
        self.service.close()


@pytest.fixture
def make_settings(mosquitto: Mosquitto, database_url: str):
    """IngestSettings for this test's broker and database; keyword changes applied."""

    def make(broker: Mosquitto = mosquitto, **changes) -> IngestSettings:
        settings = IngestSettings(
            database_url=database_url,
            broker=Broker.from_url(broker.url),
            client_id=f"ingest-{uuid.uuid4().hex[:8]}",
            max_delay=TEST_MAX_DELAY,
        )
        return replace(settings, **changes)

    return make


@pytest.fixture
def start_ingest() -> Iterator[Callable[[IngestSettings], RunningIngest]]:
    """Start ingest services in this process; all are stopped after the test."""
    running: list[RunningIngest] = []

    def start(settings: IngestSettings) -> RunningIngest:
        ingest = RunningIngest(settings)
        running.append(ingest)
        return ingest

    yield start
    for ingest in running:
        ingest.stop()


@pytest.fixture
def make_gateway(mosquitto: Mosquitto) -> Iterator[Callable[..., GatewayDouble]]:
    """Gateway doubles on this test's broker: ``make_gateway("gw-1", "gw-2")``."""
    gateways: list[GatewayDouble] = []

    def make(*gateway_ids: str, broker: Mosquitto = mosquitto) -> GatewayDouble:
        client_id = f"gateway-double-{uuid.uuid4().hex[:8]}"
        gateway = GatewayDouble(
            broker.host, broker.port, client_id=client_id, gateway_ids=gateway_ids
        )
        gateways.append(gateway)
        return gateway

    yield make
    for gateway in gateways:
        gateway.close()


@pytest.fixture
def count(database_url: str):
    """``count("readings")`` -> rows in the table now (own short connection)."""

    def rows(table: str) -> int:
        with psycopg.connect(database_url, autocommit=True) as conn:
            found = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert found is not None
            return int(found[0])

    return rows
