"""The SVG chart: bands, points, flagged marks, escaping; well-formed for any input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.web.chart import (
    HEIGHT,
    WIDTH,
    Bands,
    Chart,
    Line,
    Point,
    draw,
    tick_values,
    value_range,
)

SVG = "{http://www.w3.org/2000/svg}"
SINCE = datetime(2026, 11, 28, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=1)


def parse(chart: Chart) -> ET.Element:
    return ET.fromstring(draw(chart))


def spo2(points: tuple[Point, ...], bands: Bands | None = None) -> Chart:
    return Chart(
        title="SpO2",
        unit="%",
        since=SINCE,
        until=UNTIL,
        low=70,
        high=100,
        lines=(Line(name="spo2", label="SpO2", points=points),),
        bands=bands or Bands(),
    )


def test_bands_cover_the_red_and_yellow_ranges() -> None:
    svg = parse(spo2((), Bands(red_low=85, yellow_low=88)))
    bands = [
        (rect.get("data-band"), float(rect.get("y", "")), float(rect.get("height", "")))
        for rect in svg.iter(f"{SVG}rect")
        if rect.get("data-band")
    ]
    # 70..100 over a plot 184 units high from y=10: 85 sits at y=102, 88 at y=83.6.
    assert bands == [("red", 102.0, 92.0), ("yellow", 83.6, 18.4)]


def test_blood_pressure_bands_on_both_sides() -> None:
    chart = Chart(
        title="Systolic",
        unit="mm[Hg]",
        since=SINCE,
        until=UNTIL,
        low=60,
        high=220,
        lines=(),
        bands=Bands(red_low=90, yellow_low=100, yellow_high=160, red_high=180),
    )
    found = [rect.get("data-band") for rect in parse(chart).iter(f"{SVG}rect")]
    assert found == [None, "red", "yellow", "yellow", "red"]


def test_flagged_points_are_triangles_with_their_flags() -> None:
    points = (
        Point(at=SINCE + timedelta(hours=1), value=95),
        Point(at=SINCE + timedelta(hours=2), value=90, flags=("body_movement",)),
    )
    svg = parse(spo2(points))
    assert len(list(svg.iter(f"{SVG}circle"))) == 1
    [flagged] = [p for p in svg.iter(f"{SVG}path") if "flagged" in p.get("class", "")]
    assert flagged.get("data-flags") == "body_movement"
    title = flagged.find(f"{SVG}title")
    assert title is not None
    assert title.text == "SpO2 90 2026-11-28 02:00 (flagged: body_movement)"


def test_text_is_escaped() -> None:
    chart = Chart(
        title='<script>alert("x")</script>',
        unit="&",
        since=SINCE,
        until=UNTIL,
        low=0,
        high=1,
        lines=(),
    )
    markup = draw(chart)
    assert "<script>" not in markup
    assert ET.fromstring(markup).get("aria-label") == '<script>alert("x")</script> (&)'


def test_value_range_widens_only_when_needed() -> None:
    assert value_range(70, 100, [90, 95]) == (70, 100)
    low, high = value_range(70, 100, [60])
    assert low == pytest.approx(58.0)
    assert high == 100


def test_a_chart_needs_a_range() -> None:
    with pytest.raises(ValueError, match="until after since"):
        Chart(title="x", unit="%", since=UNTIL, until=SINCE, low=0, high=1, lines=())
    with pytest.raises(ValueError, match="high above low"):
        Chart(title="x", unit="%", since=SINCE, until=UNTIL, low=1, high=1, lines=())


limits = st.one_of(st.none(), st.floats(min_value=0, max_value=300, allow_nan=False))
points = st.builds(
    Point,
    at=st.datetimes(
        min_value=datetime(2026, 11, 27), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)
    ),
    value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    flags=st.lists(st.text(max_size=8), max_size=2).map(tuple),
)


@given(
    st.lists(points, max_size=30),
    st.builds(Bands, red_low=limits, yellow_low=limits, yellow_high=limits, red_high=limits),
    st.text(max_size=20),
)
def test_any_chart_is_well_formed_and_stays_in_its_box(
    found: list[Point], bands: Bands, title: str
) -> None:
    chart = Chart(
        title=title,
        unit="%",
        since=SINCE,
        until=UNTIL,
        low=70,
        high=100,
        lines=(Line(name="spo2", label=title, points=tuple(found)),),
        bands=bands,
    )
    svg = parse(chart)
    for circle in svg.iter(f"{SVG}circle"):
        assert 0 <= float(circle.get("cx", "")) <= WIDTH
        assert 0 <= float(circle.get("cy", "")) <= HEIGHT
    for rect in svg.iter(f"{SVG}rect"):
        assert float(rect.get("height", "")) >= 0
        assert 0 <= float(rect.get("y", "")) <= HEIGHT


def test_the_time_axis_is_on_the_clinicians_wall_clock() -> None:
    # Midnight UTC in November is 01:00 in Copenhagen, as every other time on the pages.
    ticks = [text.text for text in parse(spo2(())).iter(f"{SVG}text")]
    assert "2026-11-28 01:00" in ticks
    assert "2026-11-29 01:00" in ticks


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (30, 140, [40, 60, 80, 100, 120, 140]),
        (70, 100, [70, 80, 90, 100]),
        (60, 220, [100, 150, 200]),
        (0, 10, [0, 2, 4, 6, 8, 10]),
    ],
)
def test_value_ticks_are_round_numbers(low, high, expected) -> None:
    assert tick_values(low, high) == expected


@given(st.floats(-1e4, 1e4), st.floats(1e-3, 1e4))
def test_value_ticks_lie_in_the_range(low, span) -> None:
    ticks = tick_values(low, low + span)
    assert 2 <= len(ticks) <= 6
    assert all(low - 1e-9 <= tick <= low + span + 1e-9 for tick in ticks)
