"""Fixtures for gateway tests: in-process gateways and a stub ingest on the test broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from gateway.service import CollectorFactory, Gateway
from gateway.settings import GatewaySettings
from tests.fixtures.mosquitto import Mosquitto
from tests.gateway.harness import TIMEOUT, StubIngest, wait_until

SOFTWARE_VERSION = "0.0.0-test"


class RunningGateway:
    """A gateway running as a task on the test's event loop."""

    def __init__(self, settings: GatewaySettings, collector: CollectorFactory) -> None:
        self.gateway = Gateway(settings, collector=collector, software_version=SOFTWARE_VERSION)
        self.task = asyncio.create_task(self.gateway.run())

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


StartGateway = Callable[[GatewaySettings, CollectorFactory], Awaitable[RunningGateway]]


@pytest.fixture
async def start_gateway() -> AsyncIterator[StartGateway]:
    running: list[RunningGateway] = []

    async def start(settings: GatewaySettings, collector: CollectorFactory) -> RunningGateway:
        gateway = RunningGateway(settings, collector)
        running.append(gateway)
        async with asyncio.timeout(TIMEOUT):
            await gateway.gateway.ready.wait()
        return gateway

    yield start
    for gateway in running:
        await gateway.stop()


@pytest.fixture
def stub_ingest(mosquitto: Mosquitto) -> Iterator[Callable[..., StubIngest]]:
    """``stub_ingest()`` -> a consumer on the test broker that stores and acks."""
    made: list[StubIngest] = []

    def make(broker: Mosquitto = mosquitto, **options: object) -> StubIngest:
        stub = StubIngest(broker, **options)  # type: ignore[arg-type]
        made.append(stub)
        wait_until(stub.subscribed.is_set, what="the stub ingest to subscribe")
        return stub

    yield make
    for stub in made:
        stub.close()
