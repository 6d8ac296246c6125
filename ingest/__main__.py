"""``python -m ingest``: the ingest service, configured by ``TELECARE_*`` variables."""

from __future__ import annotations

import os
import sys

from ingest.process import configure_logging, serve

if __name__ == "__main__":
    configure_logging()
    sys.exit(serve(os.environ))
