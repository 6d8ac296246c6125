"""PLX Features (0x2A60): what a pulse oximeter supports, and which status bits it sets.

    supported u16 | [Measurement Status support u16] | [Device & Sensor Status support u24]

Each support bitmap is present exactly when its feature bit is set, and has the width and
bit positions of the status field it describes (``devices.pulse_oximeter_status``).
Layout: SIG-XML ``plx_features.xml``, cross-checked against packetcraft-inc/stacks
``plxpc_main.c`` (whose parser wrongly reads the 24-bit support field as 16 bits).
Re-exported by ``devices.pulse_oximeter``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

from devices.field_reader import FieldReader, defined_bits
from devices.pulse_oximeter_status import DEVICE_SENSOR_STATUS, MEASUREMENT_STATUS
from devices.reading import Flag


class PlxFeature(IntFlag):
    """0x2A60 Supported Features, bits 0-7; bits 8-15 are RFU and ignored."""

    MEASUREMENT_STATUS = 0x01
    DEVICE_SENSOR_STATUS = 0x02
    SPOT_CHECK_STORAGE = 0x04
    SPOT_CHECK_TIMESTAMP = 0x08
    FAST = 0x10
    SLOW = 0x20
    PULSE_AMPLITUDE_INDEX = 0x40
    MULTIPLE_BONDS = 0x80


_SUPPORTED_FEATURES_SIZE = 2  # u16, bits 8-15 RFU (SIG-XML plx_features.xml)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlxFeatures:
    """PLX Features (0x2A60): what the device supports, and which status bits it sets.

    A support bitmap is present exactly when its feature bit says the status is supported.
    """

    supported_features: PlxFeature
    measurement_status_support: frozenset[Flag] | None = None
    device_sensor_status_support: frozenset[Flag] | None = None

    def __post_init__(self) -> None:
        if self.supported_features & ~defined_bits(PlxFeature):
            raise ValueError(f"RFU feature bits are set: {self.supported_features!r}")
        for feature, support, field in (
            (PlxFeature.MEASUREMENT_STATUS, self.measurement_status_support, MEASUREMENT_STATUS),
            (
                PlxFeature.DEVICE_SENSOR_STATUS,
                self.device_sensor_status_support,
                DEVICE_SENSOR_STATUS,
            ),
        ):
            if (feature in self.supported_features) != (support is not None):
                raise ValueError(f"{field.name} support is given exactly when {feature!r} is set")
            field.check(support)


def parse_plx_features(data: bytes) -> PlxFeatures:
    """Decode PLX Features (0x2A60): 2, 4, 5 or 7 bytes, as the feature bits say."""
    raw = FieldReader(data, 0).uint(_SUPPORTED_FEATURES_SIZE, "Supported Features")
    features = PlxFeature(raw & defined_bits(PlxFeature))
    read = FieldReader(data, _SUPPORTED_FEATURES_SIZE, flags=features)
    record = PlxFeatures(
        supported_features=features,
        measurement_status_support=read.status(MEASUREMENT_STATUS, PlxFeature.MEASUREMENT_STATUS),
        device_sensor_status_support=read.status(
            DEVICE_SENSOR_STATUS, PlxFeature.DEVICE_SENSOR_STATUS
        ),
    )
    read.finish()
    return record


def encode_plx_features(r: PlxFeatures) -> bytes:
    """The 0x2A60 bytes for ``r``."""
    fields = (
        r.supported_features.value.to_bytes(_SUPPORTED_FEATURES_SIZE, "little"),
        MEASUREMENT_STATUS.to_bytes(r.measurement_status_support),
        DEVICE_SENSOR_STATUS.to_bytes(r.device_sensor_status_support),
    )
    return b"".join(field for field in fields if field is not None)
