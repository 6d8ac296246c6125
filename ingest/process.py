"""The ingest process: settings from the environment, logging, signals, exit codes.

``python -m ingest`` and ``telecare ingest`` both end here. SIGTERM and SIGINT ask the
service to stop (flush, ack, disconnect); a second signal is not needed and not special.

Exit codes: 0 stopped on request; 2 the service could not start (bad settings,
database or broker unreachable, schema not migrated), reported as one line on stderr.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Mapping
from typing import TextIO

from ingest.errors import IngestError
from ingest.service import run_service
from ingest.settings import IngestSettings

EXIT_OK = 0
EXIT_UNAVAILABLE = 2
# logfmt-style prefix, so every line is key=value from start to end (ingest.logfmt).
LOG_FORMAT = "time=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def one_line(exc: BaseException) -> str:
    """An error message on one line (libpq's span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def configure_logging(*, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=stream or sys.stderr)


def serve(environ: Mapping[str, str], *, stderr: TextIO | None = None) -> int:
    """Run ingest until SIGTERM/SIGINT; must be called on the main thread."""
    err = stderr or sys.stderr
    try:
        settings = IngestSettings.from_env(environ)
    except IngestError as exc:
        print(f"error: {one_line(exc)}", file=err)
        return EXIT_UNAVAILABLE
    stop = threading.Event()
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda _signum, _frame: stop.set())
    try:
        run_service(settings, stop=stop)
    except IngestError as exc:
        print(f"error: {one_line(exc)}", file=err)
        return EXIT_UNAVAILABLE
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_OK
