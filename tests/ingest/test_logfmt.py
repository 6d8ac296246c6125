"""Structured log lines: event first, key=value pairs, quoting only where needed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from ingest import logfmt


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, "event=commit", id="bare"),
        pytest.param(
            {"readings": 600, "lag": 0.0412}, "event=commit readings=600 lag=0.041", id="numbers"
        ),
        pytest.param({"ok": True, "gone": None}, "event=commit ok=true", id="bool-and-none"),
        pytest.param(
            {"topic": "telecare/v1/gw/gw-1/readings"},
            "event=commit topic=telecare/v1/gw/gw-1/readings",
            id="topic",
        ),
        pytest.param(
            {"error": 'bad "x"\nnext'}, 'event=commit error="bad \\"x\\"\\nnext"', id="quoted"
        ),
        pytest.param({"seconds": 2.0}, "event=commit seconds=2", id="whole-float"),
        pytest.param(
            {"at": datetime(2026, 11, 29, 7, 30, tzinfo=UTC)},
            "event=commit at=2026-11-29T07:30:00+00:00",
            id="datetime",
        ),
    ],
)
def test_lines(fields, expected):
    assert logfmt.line("commit", **fields) == expected


def test_log_writes_one_line_at_the_level(caplog):
    logger = logging.getLogger("tests.logfmt")
    with caplog.at_level(logging.INFO, logger="tests.logfmt"):
        logfmt.log(logger, logging.DEBUG, "hidden")
        logfmt.log(logger, logging.WARNING, "dead_letter", topic="t")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "event=dead_letter topic=t")
    ]
