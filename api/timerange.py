"""The [since, until) range of a query, with defaults and bounds (OWASP API4)."""

from __future__ import annotations

from datetime import datetime, timedelta

from api.errors import InvalidError
from devices.reading import utc_now

# A week of readings when no range is given: what a clinician opens a chart on.
DEFAULT_SPAN = timedelta(days=7)
# A little over a year: the longest chart or export one request may ask for.
MAX_SPAN = timedelta(days=400)


def time_range(
    since: datetime | None,
    until: datetime | None,
    *,
    default_span: timedelta = DEFAULT_SPAN,
    max_span: timedelta = MAX_SPAN,
) -> tuple[datetime, datetime]:
    """Validated bounds; ``until`` defaults to now, ``since`` to ``default_span`` before it."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise InvalidError(f"{name} needs a time zone (e.g. 2026-11-29T08:00:00Z)")
    end = until or utc_now()
    start = since or end - default_span
    if not start < end:
        raise InvalidError("since must be before until")
    if end - start > max_span:
        raise InvalidError(f"a range spans at most {max_span.days} days")
    return start, end
