"""The ``telecare`` command line, driven through ``main`` as a user would type it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from devices.simulator import Scenario
from telecare.cli import build_parser, main


def test_help_lists_every_subcommand():
    out = subprocess.run(
        [sys.executable, "-m", "telecare.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("simulate", "decode", "bench"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command


def test_a_command_is_required():
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([])
    assert exited.value.code == 2


def test_decode_prints_readings(capsys):
    code = main(
        ["decode", "2a35", "1e 7800 5000 5900 ea070b1d080f00 4800 01 0400", "--utc-offset", "1"]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split()[3:5] for line in out] == [
        ["systolic", "120"],
        ["diastolic", "80"],
        ["mean_arterial_pressure", "89"],
        ["pulse_rate", "72"],
    ]
    assert out[0].startswith("2026-11-29 07:15:00Z")  # 08:15 on a UTC+1 device clock
    assert out[0].rstrip().endswith("irregular_pulse")


def test_decode_prints_records_of_non_reading_characteristics(capsys):
    assert main(["decode", "2a19", "57"]) == 0
    assert capsys.readouterr().out.strip() == "87"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["decode", "2a35", "1e7800"], "need 19 bytes, got 3", id="truncated"),
        pytest.param(["decode", "2a35", "zz"], "not hex", id="not-hex"),
        pytest.param(["decode", "2a37", "00"], "not one we can decode", id="unknown-uuid"),
    ],
)
def test_decode_errors_are_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_simulate_decodes_every_value_of_every_scenario(capsys):
    assert main(["simulate", "--minutes", "6"]) == 0
    out = capsys.readouterr().out
    assert f"{len(Scenario)} households" in out  # one of each
    assert "0 undecodable values" in out


def test_simulated_crisis_shows_crisis_readings(capsys):
    assert main(["simulate", "--scenario", "hypertensive_crisis", "--minutes", "7"]) == 0
    systolic = [
        float(line.split()[4])
        for line in capsys.readouterr().out.splitlines()
        if " systolic " in line
    ]
    assert systolic
    assert all(value > 180 for value in systolic)


def test_simulate_refuses_a_bad_duration(capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "--minutes", "0"])
    assert "must be positive" in capsys.readouterr().err


def test_bench_decode_reports_ratios(capsys):
    assert main(["bench", "decode"]) == 0
    out = capsys.readouterr().out
    assert out.count("x |") == 3
