"""``devices.decode``: one entry point for every characteristic that carries readings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import Decoder, ParseError, decode, parse_characteristic
from devices.berrymed import BERRYMED_NOTIFY_UUID, BerryMedPacket, encode_berrymed_packet
from devices.blood_pressure_feature import BloodPressureFeature
from devices.decoder import READING_DECODERS, RECORD_PARSERS
from devices.reading import AbsentReason, Flag, Kind, Reading, Unit

RECEIVED = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)
DEVICE = "AA:BB:CC:DD:EE:01"

# flags 0x1E: timestamp, pulse, user id, status; 120/80/89 mmHg, 2026-11-29 08:15:00,
# pulse 72, user 1, status "irregular pulse" (bit 2).
BP_STANDARD = bytes.fromhex("1e780050005900ea070b1d080f004800010400")
# The same values the way a Beurer BM85 sends them: pulse and status big endian, user id
# without flag bit 3, RFU flag bit 6 set, MAP 0x0000 (blood_pressure_layout.py).
BP_BEURER = bytes.fromhex("56780050000000ea070b1d080f000048010004")


def _bp(kind, value, unit=Unit.MMHG):
    return Reading(
        device_id=DEVICE,
        kind=kind,
        value=value,
        unit=unit,
        measured_at=datetime(2026, 11, 29, 8, 15, tzinfo=UTC),
        device_time=datetime(2026, 11, 29, 8, 15),
        flags=frozenset({Flag.IRREGULAR_PULSE}),
        user_id=1,
    )


def test_blood_pressure_measurement_by_number_string_and_uuid():
    expected = (
        _bp(Kind.SYSTOLIC, 120.0),
        _bp(Kind.DIASTOLIC, 80.0),
        _bp(Kind.MEAN_ARTERIAL_PRESSURE, 89.0),
        _bp(Kind.PULSE_RATE, 72.0, Unit.PER_MINUTE),
    )
    for characteristic in (0x2A35, "2a35", "0x2A35", "00002a35-0000-1000-8000-00805f9b34fb"):
        assert decode(characteristic, BP_STANDARD, device_id=DEVICE) == expected


def test_profile_quirk_changes_the_decoding():
    beurer = decode(0x2A35, BP_BEURER, device_id=DEVICE, profile="beurer-bm")
    assert [(r.kind, r.value) for r in beurer] == [
        (Kind.SYSTOLIC, 120.0),
        (Kind.DIASTOLIC, 80.0),
        (Kind.MEAN_ARTERIAL_PRESSURE, None),
        (Kind.PULSE_RATE, 72.0),
    ]
    assert beurer[2].absent_reason is AbsentReason.DEVICE_INVALID
    with pytest.raises(ParseError):
        decode(0x2A35, BP_BEURER, device_id=DEVICE)  # RFU flag bit set: not standard


def test_readings_without_device_time_get_the_receive_time():
    spot = bytes.fromhex("0061004800")  # PLX spot-check: SpO2 97, PR 72, no optional fields
    readings = decode(0x2A5E, spot, device_id=DEVICE, received_at=RECEIVED)
    assert [(r.kind, r.value, r.measured_at) for r in readings] == [
        (Kind.SPO2, 97.0, RECEIVED),
        (Kind.PULSE_RATE, 72.0, RECEIVED),
    ]
    assert all(Flag.RECEIVE_TIME in r.flags for r in readings)


def test_continuous_samples_are_marked_continuous():
    sample = bytes.fromhex("0060004b00")
    readings = decode(0x2A5F, sample, device_id=DEVICE, received_at=RECEIVED)
    assert all(r.continuous for r in readings)


def test_berrymed_one_shot_takes_whole_packets_only():
    packet = encode_berrymed_packet(
        BerryMedPacket(
            signal_strength=5,
            pulse_beep=False,
            probe_unplugged=False,
            signal=True,
            pleth=40,
            bar_graph=3,
            pulse_search=False,
            no_finger=False,
            pulse_rate=70,
            spo2=98,
        )
    )
    readings = decode("berrymed-bci", packet * 2, device_id=DEVICE, received_at=RECEIVED)
    assert [(r.kind, r.value) for r in readings] == [
        (Kind.SPO2, 98.0),
        (Kind.PULSE_RATE, 70.0),
    ] * 2
    with pytest.raises(ParseError, match="whole 5-byte packets"):
        decode(BERRYMED_NOTIFY_UUID, packet[:3], device_id=DEVICE)


def test_connection_decoder_reassembles_split_stream_packets():
    packet = encode_berrymed_packet(
        BerryMedPacket(
            signal_strength=5,
            pulse_beep=False,
            probe_unplugged=False,
            signal=True,
            pleth=40,
            bar_graph=3,
            pulse_search=False,
            no_finger=False,
            pulse_rate=200,
            spo2=91,
        )
    )
    decoder = Decoder(device_id=DEVICE, profile="berrymed-bci")
    assert decoder.decode(BERRYMED_NOTIFY_UUID, packet[:2], received_at=RECEIVED) == ()
    readings = decoder.decode(BERRYMED_NOTIFY_UUID, packet[2:], received_at=RECEIVED)
    assert [(r.kind, r.value) for r in readings] == [(Kind.SPO2, 91.0), (Kind.PULSE_RATE, 200.0)]
    assert decoder.decode(0x2A5F, bytes.fromhex("0060004b00"), received_at=RECEIVED)


def test_non_reading_characteristics_point_to_their_record_parser():
    with pytest.raises(ParseError, match="carries no readings"):
        decode(0x2A49, b"\x07\x00")
    assert parse_characteristic(0x2A49, b"\x07\x00") == parse_characteristic("2a49", b"\x07\x00")
    assert isinstance(parse_characteristic(0x2A49, b"\x07\x00"), BloodPressureFeature)
    assert parse_characteristic(0x2A19, b"\x57") == 87


@pytest.mark.parametrize(
    "characteristic",
    [
        pytest.param(0x2A37, id="heart-rate-measurement"),
        pytest.param("6e400003-b5a3-f393-e0a9-e50e24dcca9e", id="vendor-uuid"),
        pytest.param(0x12345, id="not-16-bit"),
    ],
)
def test_unknown_characteristic_is_a_parse_error(characteristic):
    with pytest.raises(ParseError):
        decode(characteristic, b"\x00")


def test_unknown_profile_is_a_value_error():
    with pytest.raises(ValueError, match="unknown device profile"):
        decode(0x2A35, BP_STANDARD, profile="nope")


@given(
    st.sampled_from(sorted(READING_DECODERS, key=str)),
    st.binary(max_size=24),
    st.sampled_from([None, "beurer-bm", "sig-blood-pressure"]),
)
def test_arbitrary_bytes_give_readings_or_a_parse_error(characteristic, data, profile):
    try:
        readings = decode(characteristic, data, profile=profile, received_at=RECEIVED)
    except ParseError:
        return
    assert all(isinstance(r, Reading) for r in readings)


@given(st.sampled_from(sorted(RECORD_PARSERS)), st.binary(max_size=24))
def test_arbitrary_bytes_give_a_record_or_a_parse_error(characteristic, data):
    try:
        parse_characteristic(characteristic, data)
    except ParseError:
        return
