"""Structured log lines: an event name and ``key=value`` pairs (logfmt).

    event=commit batches=12 readings=600 stored=598 duplicates=2 lag_ms=41

One line per event, greppable by key and parsed by Loki, Vector or ``jq -R``; values
with spaces, quotes or ``=`` are double-quoted with backslash escapes.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

# Bare values: the characters logfmt parsers accept unquoted.
_BARE = re.compile(r"[A-Za-z0-9_.:/@+\-\[\]]+")


def line(event: str, **fields: object) -> str:
    """``event=<event> key=value ...`` in the order given, None values left out."""
    parts = [f"event={event}"]
    parts.extend(f"{key}={_value(value)}" for key, value in fields.items() if value is not None)
    return " ".join(parts)


def log(logger: logging.Logger, level: int, event: str, **fields: object) -> None:
    """Log one structured line (formatted only when the level is enabled)."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", line(event, **fields))


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if _BARE.fullmatch(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
