"""Simulate mode: simulated households through the real outbox, publisher and broker."""

from __future__ import annotations

import pytest

from devices import Flag, Kind
from gateway.simulate import SimulationOptions, simulated
from tests.gateway.harness import eventually, settings_for_test


async def test_a_simulated_household_delivers_cuff_stream_and_stored_spot_checks(
    tmp_path, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    running = await start_gateway(
        settings_for_test(tmp_path, mosquitto), simulated(SimulationOptions(speed=60.0))
    )

    def arrived(predicate) -> bool:
        return any(predicate(r) for r in list(ingest.stored.values()))

    await eventually(lambda: arrived(lambda r: r.kind is Kind.SYSTOLIC), what="a cuff reading")
    await eventually(lambda: arrived(lambda r: r.continuous), what="stream samples")
    await eventually(
        lambda: arrived(lambda r: Flag.FROM_STORAGE in r.flags), what="a downloaded spot-check"
    )
    devices = {r.device_id for r in list(ingest.stored.values())}
    assert len(devices) == 2
    listed = {d.device_id: d for d in running.gateway.inventory.statuses()}
    assert set(listed) == devices
    assert all(d.battery is not None and d.firmware for d in listed.values())


@pytest.mark.parametrize("bad", [{"households": 0}, {"speed": 0.0}], ids=["households", "speed"])
def test_options_are_checked(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SimulationOptions(**bad)
