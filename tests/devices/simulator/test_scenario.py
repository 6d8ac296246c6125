"""The scenario table and how scenarios combine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devices.simulator.scenario import (
    SCENARIOS,
    Desaturation,
    Failure,
    Motion,
    Profile,
    Scenario,
    Span,
    before_start,
    combine,
)

NORMAL = combine(Scenario.NORMAL)


def test_scenario_values_are_the_names_the_demo_accepts():
    assert [s.value for s in Scenario] == [
        "normal",
        "hypertensive_crisis",
        "hypotension",
        "elevated_pressure",
        "desaturation",
        "motion_artefact",
        "error_reading",
        "clock_unset",
    ]


@pytest.mark.parametrize("scenario", list(Scenario))
def test_every_scenario_says_what_a_clinician_should_see(scenario):
    assert len(SCENARIOS[scenario].expect) > 40


def test_normal_is_a_healthy_adult_with_working_devices():
    assert (NORMAL.desaturation, NORMAL.motion, NORMAL.failure, NORMAL.clock_unset) == (
        None,
        None,
        None,
        False,
    )
    # Home BP below 135/85, SpO2 at or above 94 %.
    assert NORMAL.haemodynamics.systolic_limits.high < 135
    assert NORMAL.haemodynamics.diastolic_limits.high < 85
    assert NORMAL.oximetry.spo2_limits.low >= 94


ASPECTS = ("haemodynamics", "oximetry", "desaturation", "motion", "failure", "clock_unset")


@pytest.mark.parametrize("scenario", list(Scenario))
def test_a_scenario_sets_its_aspects_and_leaves_the_rest_normal(scenario):
    profile, spec = combine(scenario), SCENARIOS[scenario]
    for aspect in ASPECTS:
        chosen = getattr(spec, aspect)
        assert getattr(profile, aspect) == (getattr(NORMAL, aspect) if chosen is None else chosen)
        if chosen is not None:
            assert chosen != getattr(NORMAL, aspect)


def test_the_crisis_promise_is_above_180_over_120():
    haemo = combine(Scenario.HYPERTENSIVE_CRISIS).haemodynamics
    assert haemo.systolic_limits.low > 180
    assert haemo.diastolic_limits.low > 120


def test_the_hypotension_promise_is_systolic_below_90():
    assert combine(Scenario.HYPOTENSION).haemodynamics.systolic_limits.high < 90


def test_desaturation_plateau_is_a_sustained_breach_of_88_percent():
    episode = combine(Scenario.DESATURATION).desaturation
    assert episode is not None
    assert episode.plateau_ceiling < 88
    assert episode.plateau >= timedelta(minutes=5)  # the 5-minute sustained rule fires


def test_scenarios_that_set_different_aspects_combine():
    chosen = (Scenario.HYPERTENSIVE_CRISIS, Scenario.MOTION_ARTEFACT, Scenario.CLOCK_UNSET)
    crisis = SCENARIOS[Scenario.HYPERTENSIVE_CRISIS].haemodynamics
    assert crisis is not None
    assert combine(chosen) == Profile(
        scenarios=chosen,
        haemodynamics=crisis,
        oximetry=NORMAL.oximetry,
        desaturation=None,
        motion=SCENARIOS[Scenario.MOTION_ARTEFACT].motion,
        failure=None,
        clock_unset=True,
    )


def test_normal_combines_with_anything():
    combined = combine((Scenario.NORMAL, Scenario.HYPOTENSION))
    assert combined.haemodynamics == combine(Scenario.HYPOTENSION).haemodynamics


def test_scenarios_that_set_one_aspect_differently_do_not_combine():
    with pytest.raises(ValueError, match="both set haemodynamics"):
        combine((Scenario.HYPERTENSIVE_CRISIS, Scenario.HYPOTENSION))


def test_repeats_count_once_and_nothing_means_normal():
    assert combine([Scenario.HYPOTENSION, Scenario.HYPOTENSION]).scenarios == (
        Scenario.HYPOTENSION,
    )
    assert combine([]) == NORMAL


def test_span():
    span = Span(10, 20)
    assert (span.clip(5), span.clip(15), span.clip(25)) == (10, 15, 20)
    assert span.at(0.25) == 12.5
    assert 10 in span
    assert 20.5 not in span
    with pytest.raises(ValueError, match="empty span"):
        Span(2, 1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Desaturation(
                first_after=timedelta(0),
                every=timedelta(minutes=5),
                ramp_down=timedelta(minutes=1),
                plateau=timedelta(minutes=4),
                ramp_up=timedelta(minutes=1),
                nadir=84,
                plateau_ceiling=87,
                pulse_rise=0,
            ),
            "must end before the next",
        ),
        (
            lambda: Desaturation(
                first_after=timedelta(0),
                every=timedelta(hours=1),
                ramp_down=timedelta(minutes=1),
                plateau=timedelta(minutes=4),
                ramp_up=timedelta(minutes=1),
                nadir=88,
                plateau_ceiling=87,
                pulse_rise=0,
            ),
            "nadir",
        ),
        (
            lambda: Motion(
                dip_probability=1.0,
                spo2_dip=Span(1, 2),
                pulse_jump=Span(1, 2),
                cuff_every=1,
                cuff_systolic_error=Span(1, 2),
            ),
            "strictly between",
        ),
        (
            lambda: Failure(
                cuff_every=0,
                spot_check_every=1,
                probe_off_first_after=timedelta(0),
                probe_off_every=timedelta(minutes=1),
                probe_off_for=timedelta(seconds=1),
            ),
            "at least 1",
        ),
        (
            lambda: Failure(
                cuff_every=1,
                spot_check_every=1,
                probe_off_first_after=timedelta(0),
                probe_off_every=timedelta(seconds=10),
                probe_off_for=timedelta(seconds=10),
            ),
            "back on",
        ),
    ],
    ids=["overlapping-episodes", "nadir-above-ceiling", "certain-dips", "zero-period", "probe"],
)
def test_parameters_are_validated(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_what_went_on_before_the_start_leaves_out_what_began_then():
    moving_crisis = (Scenario.HYPERTENSIVE_CRISIS, Scenario.MOTION_ARTEFACT)
    assert before_start(moving_crisis) == (Scenario.MOTION_ARTEFACT,)
    assert before_start(Scenario.DESATURATION) == (Scenario.NORMAL,)
    assert before_start((Scenario.CLOCK_UNSET, Scenario.CLOCK_UNSET)) == (Scenario.CLOCK_UNSET,)
    began = {scenario for scenario, spec in SCENARIOS.items() if spec.began_at_start}
    assert began == {
        Scenario.HYPERTENSIVE_CRISIS,
        Scenario.HYPOTENSION,
        Scenario.ELEVATED_PRESSURE,
        Scenario.DESATURATION,
    }
