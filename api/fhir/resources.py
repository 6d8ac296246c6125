"""Rows to FHIR R4 resources (plain JSON objects). Pure: no I/O here.

Observations follow the R4 vital-signs profiles and the HL7 PHD IG: every code carries
LOINC (when the kind has one), MDC and NPU codings; values are UCUM quantities; a
special value becomes ``dataAbsentReason``; status flags with a PHD ASN1 code become
components, others a note. The pressures of one cuff measurement (same device, same
instant) become one blood-pressure panel with components. Ids are stable: the same
reading always has the same Observation id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.fhir import codes
from api.schemas.fleet import DeviceOut
from api.schemas.patients import Identity
from devices.reading import KIND_CODES, AbsentReason, Flag, Kind, Unit

JsonObject = dict[str, Any]

# FHIR R4 id: 1-64 of A-Z a-z 0-9 - . (datatypes.html#id).
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Device ids that are no FHIR id (MAC addresses have colons) get a hashed one.
HASHED_PREFIX = "h-"
_HASHED_HEX = 40


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingRow:
    """One stored reading, as the export and search queries read it."""

    patient_id: int
    device_id: str
    kind: Kind
    value: float | None
    unit: Unit
    absent_reason: AbsentReason | None
    flags: frozenset[Flag]
    measured_at: datetime


def device_fhir_id(device_id: str) -> str:
    """The FHIR id of a device: its own id when valid, else a stable hash of it."""
    if FHIR_ID.fullmatch(device_id) and not device_id.startswith(HASHED_PREFIX):
        return device_id
    return HASHED_PREFIX + hashlib.sha256(device_id.encode()).hexdigest()[:_HASHED_HEX]


def _observation_id(device_id: str, code: str, measured_at: datetime) -> str:
    key = f"{device_id}\x00{code}\x00{measured_at.isoformat()}".encode()
    return "o-" + hashlib.sha256(key).hexdigest()[:_HASHED_HEX]


def _instant(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def kind_coding(kind: Kind) -> list[JsonObject]:
    """LOINC, MDC and NPU codings of ``kind``, in that order, as far as they exist."""
    entry = KIND_CODES[kind]
    found: list[JsonObject] = []
    if kind is Kind.SPO2:
        found.append({"system": codes.LOINC, "code": codes.SPO2_VITAL_SIGN_LOINC})
    if entry.loinc is not None:
        found.append({"system": codes.LOINC, "code": entry.loinc, "display": entry.display})
    if entry.mdc is not None:
        found.append({"system": codes.MDC, "code": str(entry.mdc)})
    if entry.npu is not None:
        found.append({"system": codes.NPU, "code": entry.npu})
    return found


def _value(row: ReadingRow) -> JsonObject:
    if row.value is None:
        reason = codes.ABSENT_REASONS[row.absent_reason or AbsentReason.NOT_A_NUMBER]
        return {
            "dataAbsentReason": {"coding": [{"system": codes.DATA_ABSENT_REASON, "code": reason}]}
        }
    unit = row.unit.value
    return {"valueQuantity": {"value": row.value, "unit": unit, "system": codes.UCUM, "code": unit}}


def _status_components(flags: frozenset[Flag]) -> list[JsonObject]:
    components = []
    for code, name, bits in codes.STATUS_TABLES:
        set_bits = sorted(bits[flag] for flag in flags if flag in bits)
        if set_bits:
            components.append(
                {
                    "code": {"coding": [{"system": codes.MDC, "code": str(code), "display": name}]},
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": codes.ASN1, "code": f"{code}.{bit}"} for bit in set_bits
                        ]
                    },
                }
            )
    return components


def _unmapped_note(flags: frozenset[Flag]) -> list[JsonObject]:
    mapped = {flag for _, _, bits in codes.STATUS_TABLES for flag in bits}
    rest = sorted(flag.value for flag in flags - mapped)
    return [{"text": "device status: " + ", ".join(rest)}] if rest else []


def _base(row: ReadingRow, *, code: list[JsonObject], profile: str | None, text: str) -> JsonObject:
    profiles = [codes.VITAL_SIGNS] + ([profile] if profile else [])
    vital = profile is not None
    resource: JsonObject = {
        "resourceType": "Observation",
        "id": _observation_id(row.device_id, code[0]["code"], row.measured_at),
        "meta": {"profile": profiles} if vital else {},
        "status": "final",
        "code": {"coding": code, "text": text},
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "effectiveDateTime": _instant(row.measured_at),
        "device": {"reference": f"Device/{device_fhir_id(row.device_id)}"},
    }
    if vital:
        resource["category"] = [
            {
                "coding": [
                    {"system": codes.CATEGORY, "code": "vital-signs", "display": "Vital Signs"}
                ]
            }
        ]
    if not resource["meta"]:
        del resource["meta"]
    return resource


def observation(row: ReadingRow) -> JsonObject:
    """One reading as one Observation."""
    resource = _base(
        row,
        code=kind_coding(row.kind),
        profile=codes.PROFILES.get(row.kind),
        text=KIND_CODES[row.kind].display,
    )
    resource.update(_value(row))
    if components := _status_components(row.flags):
        resource["component"] = components
    if note := _unmapped_note(row.flags):
        resource["note"] = note
    return resource


def blood_pressure_panel(rows: list[ReadingRow]) -> JsonObject:
    """The pressures of one cuff measurement as a panel with one component each."""
    first = rows[0]
    panel_code = [
        {"system": codes.LOINC, "code": codes.BP_PANEL_LOINC, "display": "Blood pressure panel"},
        {"system": codes.MDC, "code": str(codes.BP_PANEL_MDC)},
    ]
    resource = _base(
        first, code=panel_code, profile=codes.PROFILES[Kind.SYSTOLIC], text="Blood pressure"
    )
    ordered = sorted(rows, key=lambda row: codes.BP_COMPONENTS.index(row.kind))
    flags = frozenset().union(*(row.flags for row in rows))
    resource["component"] = [
        {
            "code": {"coding": kind_coding(row.kind), "text": KIND_CODES[row.kind].display},
            **_value(row),
        }
        for row in ordered
    ] + _status_components(flags)
    if note := _unmapped_note(flags):
        resource["note"] = note
    return resource


def observations(rows: Iterable[ReadingRow]) -> list[JsonObject]:
    """Readings to Observations, pressures of one measurement grouped into a panel."""
    panels: dict[tuple[int, str, datetime], list[ReadingRow]] = {}
    out: list[tuple[datetime, JsonObject | tuple[int, str, datetime]]] = []
    for row in rows:
        if row.kind not in codes.OBSERVED_KINDS:
            continue
        if row.kind in codes.BP_COMPONENTS:
            key = (row.patient_id, row.device_id, row.measured_at)
            if key not in panels:
                panels[key] = []
                out.append((row.measured_at, key))
            panels[key].append(row)
        else:
            out.append((row.measured_at, observation(row)))
    return [
        item if isinstance(item, dict) else blood_pressure_panel(panels[item]) for _, item in out
    ]


def patient(identity: Identity) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "Patient",
        "id": str(identity.patient_id),
        "name": [{"text": identity.name}],
    }
    if identity.national_id is not None:
        resource["identifier"] = [{"system": codes.CPR, "value": identity.national_id}]
    address = {
        key: value
        for key, value in (
            ("line", [identity.address] if identity.address else None),
            ("postalCode", identity.postal_code),
            ("city", identity.city),
        )
        if value
    }
    if address:
        resource["address"] = [address]
    if identity.phone:
        resource["telecom"] = [{"system": "phone", "value": identity.phone}]
    return resource


def device(found: DeviceOut) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "Device",
        "id": device_fhir_id(found.id),
        "identifier": [{"value": found.id}],
        "status": "inactive" if found.lifecycle_state.value == "retired" else "active",
        "deviceName": [{"name": found.model, "type": "model-name"}],
    }
    if found.serial_number:
        resource["serialNumber"] = found.serial_number
    if found.firmware_revision:
        resource["version"] = [{"type": {"text": "firmware"}, "value": found.firmware_revision}]
    if found.patient_id is not None:
        resource["patient"] = {"reference": f"Patient/{found.patient_id}"}
    return resource


def searchset(resources: list[JsonObject], *, base: str) -> JsonObject:
    """A searchset Bundle of ``resources`` (R4 bundle.html)."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }
