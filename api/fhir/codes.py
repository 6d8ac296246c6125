"""Code systems, profiles and mapping tables for FHIR R4 output.

Sources: FHIR R4 vital signs (hl7.org/fhir/R4/observation-vitalsigns.html: category
vital-signs, the BP panel 85354-9 with components, heart rate 8867-4, oxygen
saturation 2708-6); the HL7 PHD IG (HL7/phd input/pagecontent: Nomenclaturecodes.md,
MDC codes in ``urn:iso:std:iso:11073:10101`` next to LOINC; MderFLOATsandSFLOATs.md,
special values to ``dataAbsentReason``; ASN1ToHL7Codes.md, BITs states as
``<32-bit code>.<bit>`` in the ASN1ToHL7 code system); DK Core for the Danish
identifiers (CPR ``urn:oid:1.2.208.176.1.2``, NPU ``urn:oid:1.2.208.176.2.1``);
reference clinical.md sections 2.3 and 3.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from devices.reading import AbsentReason, Flag, Kind

LOINC = "http://loinc.org"
MDC = "urn:iso:std:iso:11073:10101"
NPU = "urn:oid:1.2.208.176.2.1"
UCUM = "http://unitsofmeasure.org"
CPR = "urn:oid:1.2.208.176.1.2"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
ASN1 = "http://hl7.org/fhir/uv/phd/CodeSystem/ASN1ToHL7"

VITAL_SIGNS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
PROFILES: Mapping[Kind, str] = MappingProxyType(
    {
        Kind.SYSTOLIC: "http://hl7.org/fhir/StructureDefinition/bp",
        Kind.DIASTOLIC: "http://hl7.org/fhir/StructureDefinition/bp",
        Kind.MEAN_ARTERIAL_PRESSURE: "http://hl7.org/fhir/StructureDefinition/bp",
        Kind.PULSE_RATE: "http://hl7.org/fhir/StructureDefinition/heartrate",
        Kind.SPO2: "http://hl7.org/fhir/StructureDefinition/oxygensat",
    }
)

# The blood-pressure panel groups the pressures of one measurement as components.
BP_PANEL_LOINC = "85354-9"
BP_PANEL_MDC = 150020  # MDC_PRESS_BLD_NONINV: the compound of sys/dia/mean
BP_COMPONENTS = (Kind.SYSTOLIC, Kind.DIASTOLIC, Kind.MEAN_ARTERIAL_PRESSURE)
# FHIR's oxygen saturation profile fixes LOINC 2708-6; 59408-5 (pulse oximetry) is the
# more precise code, carried next to it as US Core does.
SPO2_VITAL_SIGN_LOINC = "2708-6"
# Kinds served as Observations: live cuff pressure is never a clinical value.
OBSERVED_KINDS = tuple(kind for kind in Kind if kind is not Kind.CUFF_PRESSURE)

# IEEE 11073 special values -> data-absent-reason (PHD IG MderFLOATsandSFLOATs.md).
ABSENT_REASONS: Mapping[AbsentReason, str] = MappingProxyType(
    {
        AbsentReason.NOT_A_NUMBER: "not-a-number",
        AbsentReason.POSITIVE_INFINITY: "positive-infinity",
        AbsentReason.NEGATIVE_INFINITY: "negative-infinity",
        AbsentReason.NOT_AT_THIS_RESOLUTION: "error",
        AbsentReason.RESERVED_VALUE: "error",
        AbsentReason.DEVICE_INVALID: "error",
    }
)

# MDC_ATTR_MSMT_STAT (partition 1, term 2375: 32-bit 67911), IEEE 11073-20601
# MeasurementStatus bits, as PHD ASN1ToHL7 codes "67911.<bit>".
MEASUREMENT_STATUS = 67911
MEASUREMENT_STATUS_BITS: Mapping[Flag, int] = MappingProxyType(
    {
        Flag.INVALID: 0,
        Flag.QUESTIONABLE: 1,
        Flag.MEASUREMENT_UNAVAILABLE: 2,
        Flag.CALIBRATION_ONGOING: 3,
        Flag.TESTING: 4,
        Flag.DEMONSTRATION: 5,
        Flag.VALIDATED: 8,
        Flag.EARLY_ESTIMATE: 9,
        Flag.MEASUREMENT_ONGOING: 10,
    }
)
# MDC_PULS_OXIM_DEV_STATUS (2:19532, 32-bit 150604), ASN1ToHL7Codes.md.
OXIMETER_STATUS = 150604
OXIMETER_STATUS_BITS: Mapping[Flag, int] = MappingProxyType(
    {
        Flag.SENSOR_DISCONNECTED: 0,
        Flag.SENSOR_MALFUNCTION: 1,
        Flag.SENSOR_DISPLACED: 2,
        Flag.UNKNOWN_SENSOR: 3,
        Flag.SENSOR_UNCONNECTED: 4,
        Flag.SENSOR_INTERFERENCE: 5,
        Flag.PULSE_SEARCH: 6,
        Flag.QUESTIONABLE_PULSE: 7,
        Flag.NONPULSATILE_SIGNAL: 8,
        Flag.ERRATIC_SIGNAL: 9,
        Flag.LOW_PERFUSION: 10,
        Flag.POOR_SIGNAL: 11,
        Flag.INADEQUATE_SIGNAL: 12,
        Flag.SIGNAL_PROCESSING_IRREGULARITY: 13,
        Flag.EQUIPMENT_MALFUNCTION: 14,
        Flag.EXTENDED_DISPLAY_UPDATE: 15,
    }
)
# Status attribute code -> its bit table, in the order components are written.
STATUS_TABLES: tuple[tuple[int, str, Mapping[Flag, int]], ...] = (
    (MEASUREMENT_STATUS, "MDC_ATTR_MSMT_STAT", MEASUREMENT_STATUS_BITS),
    (OXIMETER_STATUS, "MDC_PULS_OXIM_DEV_STATUS", OXIMETER_STATUS_BITS),
)
