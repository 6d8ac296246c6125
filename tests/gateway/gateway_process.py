"""A gateway in its own process, for tests that kill it with SIGKILL.

    python -m tests.gateway.gateway_process --state-dir D --broker mqtt://... --readings N

It runs the real ``Gateway`` with a collector that hands over ``N`` deterministic
readings (two devices, interleaved; ``tests.gateway.harness``) and then idles, printing
"produced" once they are all in the outbox. Started again with ``--readings 0`` it only
publishes what its outbox still holds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from devices.reading import Reading
from gateway.service import Gateway
from gateway.settings import (
    GatewaySettings,
    MqttSettings,
    OutboxSettings,
    PublishSettings,
)
from tests.gateway.harness import ListCollector, interleaved, spo2_readings, systolic_readings

OXIMETER = "C0:00:00:00:00:01"
CUFF = "C0:00:00:00:00:02"


def readings(count: int) -> list[Reading]:
    """The readings every run with ``--readings count`` produces, in production order."""
    half = count // 2
    return interleaved(spo2_readings(OXIMETER, count - half), systolic_readings(CUFF, half))


class AnnouncingCollector(ListCollector):
    """Says "produced" on stdout once every reading is in the outbox."""

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(super().run())
            await self.done.wait()
            print("produced", flush=True)


async def main(args: argparse.Namespace) -> None:
    settings = GatewaySettings(
        gateway_id=args.gateway_id,
        state_dir=args.state_dir,
        mqtt=MqttSettings(url=args.broker, reconnect_max_s=1, keepalive_s=5),
        publish=PublishSettings(
            batch_size=args.batch_size, batch_wait_s=0, ack_timeout_s=1.0, resend_max_s=2.0
        ),
        outbox=OutboxSettings(capacity=100_000),
    )

    def collector(gateway: Gateway) -> ListCollector:
        return AnnouncingCollector(gateway, readings(args.readings), chunk=10, pause=0.0)

    await Gateway(settings, collector=collector, software_version="0.0.0-test").run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--gateway-id", default="gw-killed")
    parser.add_argument("--readings", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=10)
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        sys.exit(0)
