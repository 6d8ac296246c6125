"""The patient page's charts (pure): which readings are drawn as flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.schemas.readings import ReadingOut
from api.web.patient import charts
from api.web.text import Language, texts
from devices.reading import Flag, Kind, Unit

UNTIL = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def spot_check(value: float, *flags: Flag, hours_ago: int) -> ReadingOut:
    return ReadingOut(
        kind=Kind.SPO2,
        value=value,
        unit=Unit.PERCENT,
        absent_reason=None,
        measured_at=UNTIL - timedelta(hours=hours_ago),
        device_id="C8:92:01:07:1F:C7",
        flags=list(flags),
    )


def test_a_stored_or_checked_reading_is_no_flagged_point_a_questionable_one_is():
    readings = [
        spot_check(97, Flag.FROM_STORAGE, hours_ago=3),
        spot_check(96, Flag.FROM_STORAGE, Flag.VALIDATED, hours_ago=2),
        spot_check(84, Flag.FROM_STORAGE, Flag.QUESTIONABLE, hours_ago=1),
    ]
    drawn = dict(
        charts(
            readings,
            [],
            since=UNTIL - timedelta(days=1),
            until=UNTIL,
            t=texts(Language.EN),
        )
    )
    spo2 = drawn[texts(Language.EN)["spo2"]]
    assert spo2.count('class="point flagged"') == 1
    assert 'data-flags="questionable"' in spo2
