"""BerryMed BCI packets, the notification stream and the readings they give."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.berrymed import (
    BerryMedPacket,
    BerryMedStream,
    berrymed_readings,
    encode_berrymed_packet,
    parse_berrymed_packet,
)
from devices.errors import ParseError
from devices.reading import AbsentReason, Flag, Kind, Reading, Unit

VECTORS = json.loads((Path(__file__).parent / "vectors" / "berrymed.json").read_text())
RECEIVED_AT = datetime(2025, 1, 12, 8, 45, 5, 250_000, tzinfo=UTC)


def _params(section: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS[section]]


def _packet(hex_bytes: str) -> BerryMedPacket:
    return parse_berrymed_packet(bytes.fromhex(hex_bytes))


@pytest.mark.parametrize("vector", _params("packets"))
def test_packet_vector(vector):
    data = bytes.fromhex(vector["hex"])
    assert parse_berrymed_packet(data) == BerryMedPacket(**vector["expected"])
    assert encode_berrymed_packet(BerryMedPacket(**vector["expected"])) == data


@pytest.mark.parametrize("vector", _params("packets_invalid"))
def test_invalid_packet_is_a_parse_error(vector):
    with pytest.raises(ParseError) as caught:
        parse_berrymed_packet(bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


@pytest.mark.parametrize("vector", _params("streams"))
def test_stream_vector(vector):
    stream = BerryMedStream()
    packets = [packet for chunk in vector["chunks"] for packet in stream.feed(bytes.fromhex(chunk))]
    assert packets == [_packet(hex_bytes) for hex_bytes in vector["packets"]]
    assert stream.skipped_bytes == vector["skipped_bytes"]


def test_partial_packet_completes_with_the_next_notification():
    stream = BerryMedStream()
    assert stream.feed(bytes.fromhex("86310758")) == ()
    assert stream.feed(bytes.fromhex("5f")) == (_packet("863107585f"),)
    assert stream.skipped_bytes == 0


def test_readings_of_a_valid_packet():
    flags = frozenset({Flag.RECEIVE_TIME})
    assert berrymed_readings(
        _packet("863107585f"), device_id="berrymed-00a050db8394", received_at=RECEIVED_AT
    ) == (
        Reading(
            device_id="berrymed-00a050db8394",
            kind=Kind.SPO2,
            value=95.0,
            unit=Unit.PERCENT,
            measured_at=RECEIVED_AT,
            flags=flags,
            continuous=True,
        ),
        Reading(
            device_id="berrymed-00a050db8394",
            kind=Kind.PULSE_RATE,
            value=88.0,
            unit=Unit.PER_MINUTE,
            measured_at=RECEIVED_AT,
            flags=flags,
            continuous=True,
        ),
    )


def test_readings_without_a_finger_are_absent_and_flagged():
    flags = frozenset({Flag.RECEIVE_TIME, Flag.NO_FINGER})
    assert berrymed_readings(_packet("8f005f7f7f"), device_id="oxi", received_at=RECEIVED_AT) == (
        Reading(
            device_id="oxi",
            kind=Kind.SPO2,
            value=None,
            absent_reason=AbsentReason.DEVICE_INVALID,
            unit=Unit.PERCENT,
            measured_at=RECEIVED_AT,
            flags=flags,
            continuous=True,
        ),
        Reading(
            device_id="oxi",
            kind=Kind.PULSE_RATE,
            value=None,
            absent_reason=AbsentReason.DEVICE_INVALID,
            unit=Unit.PER_MINUTE,
            measured_at=RECEIVED_AT,
            flags=flags,
            continuous=True,
        ),
    )


@pytest.mark.parametrize(
    ("hex_bytes", "flags"),
    [
        pytest.param("a000407f7f", {Flag.PROBE_UNPLUGGED}, id="probe-unplugged"),
        pytest.param("8f64607f7f", {Flag.PULSE_SEARCH}, id="pulse-search"),
        pytest.param("c62f07585f", set(), id="beep-is-no-flag"),
        pytest.param("963107585f", set(), id="signal-bit-is-no-flag"),
    ],
)
def test_packet_bits_become_flags_on_both_readings(hex_bytes, flags):
    readings = berrymed_readings(_packet(hex_bytes), device_id="oxi", received_at=RECEIVED_AT)
    assert [reading.flags for reading in readings] == [frozenset({Flag.RECEIVE_TIME, *flags})] * 2


def test_a_pulse_above_127_keeps_its_high_bit():
    spo2, pulse = berrymed_readings(_packet("8630470a60"), device_id="oxi", received_at=RECEIVED_AT)
    assert (spo2.value, pulse.value) == (96.0, 138.0)


def test_receive_time_is_stored_in_utc():
    received = datetime(2025, 1, 12, 9, 45, 5, tzinfo=timezone(timedelta(hours=1)))
    spo2, pulse = berrymed_readings(_packet("863107585f"), device_id="oxi", received_at=received)
    assert spo2.measured_at == pulse.measured_at == datetime(2025, 1, 12, 8, 45, 5, tzinfo=UTC)
    assert spo2.measured_at.tzinfo is UTC


def test_packets_refuse_fields_that_do_not_fit():
    fields = VECTORS["packets"][0]["expected"]
    with pytest.raises(ValueError, match="spo2"):
        BerryMedPacket(**{**fields, "spo2": 128})
    with pytest.raises(ValueError, match="pulse_rate"):
        BerryMedPacket(**{**fields, "pulse_rate": 256})
    with pytest.raises(ValueError, match="signal_strength"):
        BerryMedPacket(**{**fields, "signal_strength": 16})


nibbles = st.integers(0, 15)
seven_bits = st.integers(0, 127)
packets = st.builds(
    BerryMedPacket,
    signal_strength=nibbles,
    signal=st.booleans(),
    probe_unplugged=st.booleans(),
    pulse_beep=st.booleans(),
    pleth=seven_bits,
    bar_graph=nibbles,
    pulse_search=st.booleans(),
    no_finger=st.booleans(),
    pulse_rate=st.integers(0, 255),
    spo2=seven_bits,
)


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[start:end] for start, end in zip([0, *points], [*points, len(data)], strict=True)]


def _is_subsequence(wanted: list[BerryMedPacket], got: list[BerryMedPacket]) -> bool:
    remaining = iter(got)
    return all(packet in remaining for packet in wanted)


@given(packets)
def test_packet_round_trip(packet):
    assert parse_berrymed_packet(encode_berrymed_packet(packet)) == packet


@given(st.binary(max_size=8))
def test_arbitrary_bytes_give_a_packet_or_parse_error(data):
    try:
        result = parse_berrymed_packet(data)
    except ParseError:
        return
    assert isinstance(result, BerryMedPacket)


@given(packets, st.integers(0, 5))
def test_readings_round_trip_the_values(packet, seconds):
    received = RECEIVED_AT + timedelta(seconds=seconds)
    spo2, pulse = berrymed_readings(packet, device_id="oxi", received_at=received)
    assert spo2.value == (None if packet.spo2 == 127 else packet.spo2)
    assert pulse.value == (None if packet.pulse_rate == 255 else packet.pulse_rate)
    assert spo2.measured_at == pulse.measured_at == received


@given(st.lists(packets, max_size=12), st.lists(st.integers(0, 200), max_size=8))
def test_a_clean_stream_yields_every_packet_whatever_the_chunking(sent, cuts):
    stream = BerryMedStream()
    data = b"".join(encode_berrymed_packet(packet) for packet in sent)
    received = [packet for chunk in _chunked(data, cuts) for packet in stream.feed(chunk)]
    assert received == sent
    assert stream.skipped_bytes == 0


@given(
    st.lists(st.tuples(st.binary(max_size=9), packets), max_size=10),
    st.binary(max_size=9),
    st.lists(st.integers(0, 200), max_size=8),
)
def test_every_packet_embedded_in_noise_is_recovered(pieces, trailing_noise, cuts):
    stream = BerryMedStream()
    data = b"".join(noise + encode_berrymed_packet(packet) for noise, packet in pieces)
    received = [
        packet for chunk in _chunked(data + trailing_noise, cuts) for packet in stream.feed(chunk)
    ]
    assert _is_subsequence([packet for _noise, packet in pieces], received)


@given(st.lists(st.binary(max_size=25), max_size=10))
def test_arbitrary_chunks_never_raise_and_every_byte_is_accounted_for(chunks):
    stream = BerryMedStream()
    received = [packet for chunk in chunks for packet in stream.feed(chunk)]
    flushed = stream.feed(b"")
    assert flushed == ()
    total = sum(len(chunk) for chunk in chunks)
    assert stream.skipped_bytes + 5 * len(received) <= total
    assert total - stream.skipped_bytes - 5 * len(received) < 5  # at most a partial packet waits
