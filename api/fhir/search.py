"""FHIR search parameters (R4 search.html): patient references, tokens, dates.

Pure functions from query strings to what the queries take; a malformed value is an
``InvalidError`` (422).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from api.errors import InvalidError
from api.fhir import codes, resources
from devices.reading import Kind

# Patient ids are bigints: at most 19 digits; 18 keeps every accepted one in range.
MAX_ID_DIGITS = 18


def _code_index() -> dict[tuple[str, str], set[Kind]]:
    """Token search (``code=system|code`` or ``code=code``) -> the kinds it names."""
    index: dict[tuple[str, str], set[Kind]] = {}
    for kind in codes.OBSERVED_KINDS:
        for coding in resources.kind_coding(kind):
            index.setdefault((coding["system"], coding["code"]), set()).add(kind)
    panel = {codes.LOINC: codes.BP_PANEL_LOINC, codes.MDC: str(codes.BP_PANEL_MDC)}
    for system, code in panel.items():
        index.setdefault((system, code), set()).update(codes.BP_COMPONENTS)
    return index


CODE_KINDS = _code_index()


def patient_param(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.removeprefix("Patient/")
    if not text.isdigit() or len(text) > MAX_ID_DIGITS:
        raise InvalidError("patient must be a Patient id or reference")
    return int(text)


def kinds(code: str | None) -> list[Kind]:
    if code is None:
        return list(codes.OBSERVED_KINDS)
    found: set[Kind] = set()
    for token in code.split(","):
        system, _, value = token.rpartition("|")
        for (known_system, known_code), kinds in CODE_KINDS.items():
            if known_code == value and (not system or system == known_system):
                found |= kinds
    return sorted(found, key=list(Kind).index)


# FHIR search date prefixes (search.html#prefix) -> which bound they set.
_PREFIXES = ("ge", "gt", "le", "lt", "eq")


def date_range(values: list[str]) -> tuple[datetime | None, datetime | None]:
    since: datetime | None = None
    until: datetime | None = None
    for value in values:
        prefix, text = (value[:2], value[2:]) if value[:2] in _PREFIXES else ("eq", value)
        start, end = _instant_range(text)
        if prefix in ("ge", "eq"):
            since = start if since is None else max(since, start)
        if prefix == "gt":
            since = end if since is None else max(since, end)
        if prefix in ("lt",):
            until = start if until is None else min(until, start)
        if prefix in ("le", "eq"):
            until = end if until is None else min(until, end)
    return since, until


def _instant_range(text: str) -> tuple[datetime, datetime]:
    """The interval a FHIR date or dateTime denotes (a day, or one instant)."""
    try:
        if len(text) == len("2026-11-29"):
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start, start + timedelta(days=1)
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidError(f"date {text!r} is not a FHIR date or dateTime") from exc
    if instant.utcoffset() is None:
        raise InvalidError("a dateTime needs a time zone")
    return instant, instant + timedelta(microseconds=1)
