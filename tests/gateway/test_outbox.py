"""The outbox: durable, ordered, bounded by a documented drop policy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.reading import AbsentReason, Flag, Kind, Reading, Unit
from gateway.outbox import Added, Outbox, OutboxBatch, OutboxCounts
from tests.gateway.harness import (
    REPOSITORY,
    TIMEOUT,
    interleaved,
    spo2_readings,
    systolic_readings,
)

OXIMETER = "C0:00:00:00:00:01"
CUFF = "C0:00:00:00:00:02"


def _ids():
    counter = iter(range(10**6))
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


def _cut(box: Outbox, size: int) -> OutboxBatch:
    batch = box.next_batch(size=size, new_id=_ids())
    assert batch is not None
    return batch


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3", capacity=1000)
    yield box
    box.close()


def test_readings_come_back_in_batches_in_arrival_order(outbox):
    readings = interleaved(spo2_readings(OXIMETER, 5), systolic_readings(CUFF, 3))
    assert outbox.add(readings) == Added(stored=8)
    new_id = _ids()

    first = outbox.next_batch(size=5, new_id=new_id)
    second = outbox.next_batch(size=5, new_id=new_id)

    assert first == OutboxBatch(
        batch_id="00000000-0000-4000-8000-000000000000", readings=tuple(readings[:5]), attempts=0
    )
    assert second == OutboxBatch(
        batch_id="00000000-0000-4000-8000-000000000001", readings=tuple(readings[5:]), attempts=0
    )
    assert outbox.next_batch(size=5, new_id=new_id) is None
    assert [b for b, _ in outbox.pending_batches()] == [first.batch_id, second.batch_id]


def test_a_batch_keeps_its_id_and_counts_attempts_until_acknowledged(outbox):
    outbox.add(spo2_readings(OXIMETER, 3))
    batch = outbox.next_batch(size=10, new_id=_ids())
    assert batch is not None
    outbox.attempted(batch.batch_id, next_attempt_at=1.0)
    outbox.attempted(batch.batch_id, next_attempt_at=2.0)

    assert outbox.batch(batch.batch_id) == OutboxBatch(
        batch_id=batch.batch_id, readings=batch.readings, attempts=2
    )
    assert outbox.pending_batches() == [(batch.batch_id, 2.0)]
    assert outbox.acknowledge([batch.batch_id, "00000000-0000-4000-8000-999999999999"]) == 3
    assert outbox.counts() == OutboxCounts(depth=0, batches=0, dropped=0, refused=0, full=False)


def test_everything_survives_reopening(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, capacity=100)
    box.add(spo2_readings(OXIMETER, 4))
    batch = _cut(box, 2)
    box.close()

    again = Outbox(path, capacity=100)
    assert again.batch(batch.batch_id) == batch
    assert again.depth() == 4
    assert again.unbatched() == 2
    again.close()


def test_full_drops_the_oldest_samples_first(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", capacity=10)
    samples = spo2_readings(OXIMETER, 8)
    box.add(samples)
    box.add(systolic_readings(CUFF, 2))

    assert box.add(spo2_readings(OXIMETER, 3, first=100)) == Added(stored=3, dropped=3)
    kept = box.next_batch(size=100, new_id=_ids())
    assert kept is not None
    assert kept.readings == (
        *samples[3:],
        *systolic_readings(CUFF, 2),
        *spo2_readings(OXIMETER, 3, first=100),
    )
    assert box.counts() == OutboxCounts(depth=10, batches=1, dropped=3, refused=0, full=True)


def test_spot_readings_are_never_dropped(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", capacity=4)
    box.add(systolic_readings(CUFF, 4))

    assert box.add(spo2_readings(OXIMETER, 2)) == Added(stored=0, refused=2)
    more_spot = [
        Reading(
            device_id=CUFF,
            kind=Kind.DIASTOLIC,
            value=80.0,
            unit=Unit.MMHG,
            measured_at=datetime(2025, 2, 1, tzinfo=UTC),
        )
    ]
    assert box.add(more_spot) == Added(stored=1, over_capacity=True)
    assert box.counts() == OutboxCounts(depth=5, batches=0, dropped=0, refused=2, full=True)


def test_full_clears_below_the_low_water_mark(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", capacity=10)
    box.add(spo2_readings(OXIMETER, 12))
    assert box.counts().full
    batch = _cut(box, 1)
    box.acknowledge([batch.batch_id])
    assert box.counts().full  # 9 held: still at 90 %
    batch = _cut(box, 1)
    box.acknowledge([batch.batch_id])
    assert not box.counts().full


def test_a_batch_whose_samples_were_all_dropped_is_gone(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", capacity=3)
    box.add(spo2_readings(OXIMETER, 3))
    batch = _cut(box, 3)
    box.add(spo2_readings(OXIMETER, 3, first=10))
    assert box.batch(batch.batch_id) is None
    assert box.pending_batches() == []


def test_memory_stays_bounded_however_much_arrives(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", capacity=1_000)
    box.add(spo2_readings(OXIMETER, 1_000))
    tracemalloc.start()
    try:
        for start in range(0, 10_000, 50):
            box.add(spo2_readings(OXIMETER, 50, first=10_000 + start))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert box.counts().depth == 1_000
    assert box.counts().dropped == 10_000
    assert peak < 1_000_000  # bytes: what one add handles, not what went through


def test_marks_follow_downloaded_records(outbox):
    def stored_record(hour: int) -> Reading:
        return Reading(
            device_id=OXIMETER,
            kind=Kind.SPO2,
            value=97.0,
            unit=Unit.PERCENT,
            measured_at=datetime(2025, 1, 1, hour, tzinfo=UTC),
            device_time=datetime(2025, 1, 1, hour),
            flags=frozenset({Flag.FROM_STORAGE}),
        )

    assert outbox.mark(OXIMETER) is None
    outbox.add([stored_record(3), stored_record(5), stored_record(4)])
    outbox.add(spo2_readings(OXIMETER, 2))  # live samples do not move the mark
    assert outbox.mark(OXIMETER) == datetime(2025, 1, 1, 5)
    outbox.set_mark(OXIMETER, datetime(2025, 1, 1, 1))
    assert outbox.mark(OXIMETER) == datetime(2025, 1, 1, 1)


_WRITER = textwrap.dedent(
    """
    import sys
    from gateway.outbox import Outbox
    from tests.gateway.harness import spo2_readings
    box = Outbox(sys.argv[1], capacity=1_000_000)
    for n in range(100_000):
        box.add(spo2_readings("C0:00:00:00:00:01", 1, first=n))
        print(n, flush=True)
    """
)


def test_what_add_returned_survives_kill_9(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    with writer.stdout:
        for line in writer.stdout:
            if int(line) >= 200:
                break
        writer.send_signal(signal.SIGKILL)
        writer.wait(TIMEOUT)
        confirmed = int(line)
    box = Outbox(path, capacity=1_000_000)
    batch = box.next_batch(size=1_000_000, new_id=_ids())
    assert batch is not None
    assert batch.readings[: confirmed + 1] == tuple(spo2_readings(OXIMETER, confirmed + 1))
    box.close()


_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
)
_VALUES = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
_READINGS = st.builds(
    lambda kind, value, absent, at, device_time, flags, user, continuous: Reading(
        device_id=OXIMETER,
        kind=kind,
        value=None if absent else value,
        unit=Unit.PERCENT,
        measured_at=at.replace(tzinfo=UTC),
        device_time=device_time,
        flags=flags,
        absent_reason=absent,
        original_value=None if absent else value / 2,
        original_unit=None if absent else Unit.KPA,
        user_id=user,
        continuous=continuous,
    ),
    st.sampled_from(Kind),
    _VALUES,
    st.none() | st.sampled_from(AbsentReason),
    _TIMES,
    st.none() | _TIMES,
    st.frozensets(st.sampled_from(Flag)),
    st.none() | st.integers(0, 255),
    st.booleans(),
)


@settings(max_examples=50, deadline=None)
@given(readings=st.lists(_READINGS, min_size=1, max_size=20))
def test_any_readings_round_trip_exactly(tmp_path_factory, readings):
    box = Outbox(tmp_path_factory.mktemp("o") / "o.sqlite3", capacity=1000)
    box.add(readings)
    batch = box.next_batch(size=100, new_id=_ids())
    box.close()
    assert batch is not None
    assert batch.readings == tuple(readings)


def test_capacity_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="capacity"):
        Outbox(tmp_path / "o.sqlite3", capacity=0)
