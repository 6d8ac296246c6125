"""Missing measurements: a scheduled slot whose window closed with no reading is blue.

The watchdog hands over the slots that closed since it last raised one (a schedule's
``slots_closing``, ingest/schedule.py) with, per slot, any reading of the kind with a
value measured inside its window. A slot with none is missed unless it was due inside a
passive period. The missed slots of one look become one candidate, counted per slot.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime

from devices.reading import Kind
from ingest.alert import AlertCandidate, Audience, missing_condition
from ingest.schedule import PassivePeriod, Slot
from ingest.threshold import Severity


def missed_slots(
    slots: Sequence[Slot],
    *,
    measured: Sequence[datetime],
    passive: Sequence[PassivePeriod] = (),
) -> tuple[Slot, ...]:
    """The slots with no time of ``measured`` (sorted) in their window, not passive."""
    missed = []
    for slot in slots:
        first_inside = bisect.bisect_left(measured, slot.opens)
        fulfilled = first_inside < len(measured) and measured[first_inside] <= slot.closes
        if not fulfilled and not any(period.covers(slot.due) for period in passive):
            missed.append(slot)
    return tuple(missed)


def missing_candidate(patient_id: int, kind: Kind, missed: Sequence[Slot]) -> AlertCandidate | None:
    """The blue alert for ``missed`` slots of ``kind``, if there are any."""
    if not missed:
        return None
    dues = sorted(slot.due for slot in missed)
    return AlertCandidate(
        condition=missing_condition(kind),
        audience=Audience.CLINICAL,
        severity=Severity.BLUE,
        patient_id=patient_id,
        kind=kind,
        first_at=dues[0],
        last_at=dues[-1],
        count=len(dues),
    )
