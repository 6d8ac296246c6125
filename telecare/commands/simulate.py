"""``telecare simulate``: simulated households, their bytes decoded as the gateway would.

Each household is one patient with a blood-pressure cuff and a pulse oximeter under a
scenario (devices.simulator). Every value the devices send goes through
``devices.Decoder`` exactly as real Bluetooth bytes would, and the readings are printed.
Simulated time runs as fast as the machine allows.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime, timedelta

from devices import Decoder, ParseError, parse_characteristic
from devices.decoder import READING_DECODERS
from devices.simulator import SCENARIOS, Scenario, Schedule, household
from devices.uuids import Characteristic
from telecare.render import format_reading, format_record

# A demo schedule: a cuff reading every 5 minutes, a spot-check every 10, so a few
# simulated minutes show every kind of event (the real defaults are twice a day).
DEMO_SCHEDULE = Schedule(
    blood_pressure_first=timedelta(minutes=1),
    blood_pressure_every=timedelta(minutes=5),
    spot_check_first=timedelta(minutes=2),
    spot_check_every=timedelta(minutes=10),
)
CONTINUOUS_SHOWN_EVERY = 60  # print one 1 Hz oximeter sample a minute


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="print decoded readings from simulated households",
        description="Run simulated households (a blood-pressure cuff and a pulse oximeter "
        "each) and print the readings their Bluetooth bytes decode to.",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[s.value for s in Scenario],
        help="scenario of one household; repeat for more (default: one of each)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the first household")
    parser.add_argument(
        "--minutes", type=_positive, default=12, help="simulated minutes (default 12)"
    )
    parser.add_argument(
        "--all-samples",
        action="store_true",
        help=f"print every 1 Hz oximeter sample, not one in {CONTINUOUS_SHOWN_EVERY}",
    )
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _describe(characteristic: int, data: bytes) -> str:
    name = Characteristic(characteristic).name.lower()
    try:
        return f"{name}: {format_record(parse_characteristic(characteristic, data))}"
    except ParseError as exc:
        return f"{name}: undecodable ({exc})"


def run_household(
    scenario: Scenario, *, seed: int, start: datetime, minutes: int, all_samples: bool
) -> Counter[str]:
    counts: Counter[str] = Counter()
    decoders: dict[str, Decoder] = {}
    print(f"\n== household seed {seed}: {scenario}")
    print(f"   expect: {SCENARIOS[scenario].expect}")
    events = household(
        seed=seed,
        start=start,
        duration=timedelta(minutes=minutes),
        scenarios=scenario,
        schedule=DEMO_SCHEDULE,
    )
    for at, address, characteristic, data in events:
        decoder = decoders.setdefault(address, Decoder(device_id=address))
        if characteristic not in READING_DECODERS:
            print(f"{at:%Y-%m-%d %H:%M:%SZ}  {address:<17}  {_describe(characteristic, data)}")
            continue
        try:
            readings = decoder.decode(characteristic, data, received_at=at)
        except ParseError as exc:
            counts["undecodable"] += 1
            print(f"{at:%Y-%m-%d %H:%M:%SZ}  {address:<17}  undecodable: {exc}")
            continue
        counts["readings"] += len(readings)
        continuous = characteristic == Characteristic.PLX_CONTINUOUS_MEASUREMENT
        if continuous:
            counts["continuous samples"] += 1
            if not all_samples and counts["continuous samples"] % CONTINUOUS_SHOWN_EVERY != 1:
                continue
        if characteristic == Characteristic.INTERMEDIATE_CUFF_PRESSURE and not all_samples:
            continue
        for reading in readings:
            print(format_reading(reading))
    return counts


def run(args: argparse.Namespace) -> int:
    scenarios = [Scenario(s) for s in args.scenario] if args.scenario else list(Scenario)
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    total: Counter[str] = Counter()
    for offset, scenario in enumerate(scenarios):
        total += run_household(
            scenario,
            seed=args.seed + offset,
            start=start,
            minutes=args.minutes,
            all_samples=args.all_samples,
        )
    print(
        f"\n{len(scenarios)} households, {args.minutes} simulated minutes: "
        f"{total['readings']} readings decoded ({total['continuous samples']} continuous "
        f"oximeter samples, {CONTINUOUS_SHOWN_EVERY}x thinned in this listing), "
        f"{total['undecodable']} undecodable values"
    )
    return 1 if total["undecodable"] else 0
