"""What a message becomes (arrival or dead letter) and the app acks a commit sends."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.reading import Kind
from gateway.contract import (
    MAX_ACK_ENTRIES,
    MAX_REASON_LENGTH,
    Ack,
    Channel,
    Rejection,
    encode,
    topic,
)
from ingest.consumer import Message
from ingest.pending import DeadLetter, Pending, app_acks, classify, reason_text
from ingest.plausibility import DEFAULT_SKEW, Quarantined, QuarantineReason
from ingest.store import Arrival
from tests.ingest.gateway_double import EPOCH, batch, reading

RECEIVED = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)
COMMITTED = datetime(2026, 11, 29, 7, 30, 1, tzinfo=UTC)
READINGS_TOPIC = topic("gw-1", Channel.READINGS)


def message(payload: bytes, *, name: str = READINGS_TOPIC) -> Message:
    return Message(
        topic=name,
        payload=payload,
        qos=1,
        mid=1,
        session=1,
        duplicate=False,
        received_at=RECEIVED,
    )


def test_a_valid_batch_is_an_arrival_with_its_readings():
    sent = batch("gw-1", [reading("dev-1", 0), reading("dev-1", 1)])
    assert classify(message(encode(sent)), skew=DEFAULT_SKEW) == Arrival(
        gateway_id="gw-1",
        batch_id=uuid.UUID(sent.batch_id),
        received_at=RECEIVED,
        readings=sent.readings,
        quarantined=(),
    )


def test_implausible_readings_are_split_off_with_their_reason():
    good, high = reading("dev-1", 0), reading("dev-1", 1, value=101.0)
    sent = batch("gw-1", [good, high])
    assert classify(message(encode(sent)), skew=DEFAULT_SKEW) == Arrival(
        gateway_id="gw-1",
        batch_id=uuid.UUID(sent.batch_id),
        received_at=RECEIVED,
        readings=(good,),
        quarantined=(Quarantined(reading=high, reason=QuarantineReason.SPO2_ABOVE_100),),
    )


def test_the_future_is_judged_from_the_receive_time():
    received = int((RECEIVED - EPOCH).total_seconds())
    within, beyond = reading("dev-1", received + 4 * 60), reading("dev-1", received + 6 * 60)
    sent = batch("gw-1", [within, beyond])
    outcome = classify(message(encode(sent)), skew=timedelta(minutes=5))
    assert isinstance(outcome, Arrival)
    assert outcome.readings == (within,)
    assert outcome.quarantined == (
        Quarantined(reading=beyond, reason=QuarantineReason.MEASURED_IN_FUTURE),
    )


def test_bytes_that_do_not_decode_are_a_dead_letter():
    assert classify(message(b"\xff"), skew=DEFAULT_SKEW) == DeadLetter(
        topic=READINGS_TOPIC,
        payload=b"\xff",
        error="payload is not UTF-8: invalid start byte at byte 0",
        received_at=RECEIVED,
        gateway_id="gw-1",
        batch_id=None,
    )


def test_a_dead_letter_keeps_the_batch_id_it_still_names():
    obj = json.loads(encode(batch("gw-1", [reading("dev-1", 0)])))
    obj["readings"][0]["kind"] = "glucose"
    outcome = classify(message(json.dumps(obj).encode()), skew=DEFAULT_SKEW)
    assert isinstance(outcome, DeadLetter)
    assert (outcome.gateway_id, outcome.batch_id) == ("gw-1", obj["batch_id"])
    assert outcome.error == "readings[0].kind: unknown Kind 'glucose'"


def test_a_topic_outside_the_contract_has_no_gateway():
    sent = encode(batch("gw-1", [reading("dev-1", 0)]))
    outcome = classify(message(sent, name="telecare/v1/gw/a+b/readings"), skew=DEFAULT_SKEW)
    assert isinstance(outcome, DeadLetter)
    assert (outcome.gateway_id, outcome.batch_id) == (None, None)


def test_a_payload_for_another_gateway_is_refused():
    sent = encode(batch("gw-2", [reading("dev-1", 0)]))
    outcome = classify(message(sent), skew=DEFAULT_SKEW)
    assert isinstance(outcome, DeadLetter)
    assert outcome.error == "gateway_id: 'gw-2' differs from the topic's 'gw-1'"


@given(payload=st.binary(max_size=512), name=st.text(max_size=60))
def test_any_message_is_an_arrival_or_a_dead_letter(payload, name):
    outcome = classify(message(payload, name=name), skew=DEFAULT_SKEW)
    assert isinstance(outcome, Arrival | DeadLetter)


@given(
    values=st.lists(
        st.floats(min_value=50, max_value=100, allow_nan=False), min_size=1, max_size=40
    )
)
def test_encoded_batches_come_back_as_their_readings(values):
    sent = batch("gw-1", [reading("dev-1", n, value=v) for n, v in enumerate(values)])
    outcome = classify(message(encode(sent)), skew=DEFAULT_SKEW)
    assert isinstance(outcome, Arrival)
    assert outcome.readings == sent.readings


def _arrival(gateway_id: str, batch_id: str) -> Arrival:
    return Arrival(gateway_id=gateway_id, batch_id=uuid.UUID(batch_id), received_at=RECEIVED)


def _dead(gateway_id: str | None, batch_id: str | None, error: str = "bad") -> DeadLetter:
    return DeadLetter(
        topic="t",
        payload=b"",
        error=error,
        received_at=RECEIVED,
        gateway_id=gateway_id,
        batch_id=batch_id,
    )


B1, B2, B3, B4 = (str(uuid.UUID(int=n)) for n in range(1, 5))


def test_app_acks_name_each_batch_once_per_gateway():
    outcomes: list[Arrival | DeadLetter] = [
        _arrival("gw-1", B1),
        _arrival("gw-2", B2),
        _arrival("gw-1", B1),  # a replay in the same commit
        _dead("gw-1", B3, "readings[0].kind: unknown"),
        _dead("gw-1", B1),  # the same id also committed: committed wins
        _dead("gw-2", None),  # nothing to name
        _dead(None, B4),  # no gateway to tell
    ]
    assert app_acks(outcomes, committed_at=COMMITTED) == [
        Ack(
            gateway_id="gw-1",
            batch_ids=(B1,),
            committed_at=COMMITTED,
            rejected=(Rejection(batch_id=B3, reason="readings[0].kind: unknown"),),
        ),
        Ack(gateway_id="gw-2", batch_ids=(B2,), committed_at=COMMITTED),
    ]


def test_large_commits_are_acked_in_chunks():
    ids = [str(uuid.UUID(int=n)) for n in range(MAX_ACK_ENTRIES + 10)]
    acks = app_acks([_arrival("gw-1", i) for i in ids], committed_at=COMMITTED)
    assert [len(ack.batch_ids) for ack in acks] == [MAX_ACK_ENTRIES, 10]
    assert [i for ack in acks for i in ack.batch_ids] == ids


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param("plain", "plain", id="plain"),
        pytest.param("line\nbreak\x00", "line?break?", id="controls"),
        pytest.param("", "rejected", id="empty"),
        pytest.param("x" * 500, "x" * (MAX_REASON_LENGTH - 3) + "...", id="long"),
    ],
)
def test_reject_reasons_are_contract_text(error, reason):
    assert reason_text(error) == reason


def test_pending_counts_readings_and_starts_its_clock_once():
    pending = Pending()
    sent = batch("gw-1", [reading("dev-1", 0), reading("dev-1", 1, kind=Kind.PULSE_RATE)])
    first = classify(message(encode(sent)), skew=DEFAULT_SKEW)
    pending.add(message(b""), first, now=10.0)
    pending.add(message(b""), _dead("gw-1", None), now=11.0)
    assert (len(pending), pending.readings, pending.since) == (2, 2, 10.0)
    assert pending.arrivals == [first]
    assert pending.dead_letters == [_dead("gw-1", None)]
