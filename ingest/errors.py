"""Errors raised by the ingest package.

IngestError(Exception)
 ├── SettingsError             a TELECARE_* setting is missing or malformed; the message
 │                             names the variable (ingest/settings.py, ingest/alert_settings.py)
 ├── MigrationError            the schema cannot be migrated: an applied migration's file
 │                             changed (checksum), the database knows a migration this
 │                             code does not, or a migration file is misnamed
 └── DatabaseUnavailableError  the database could not be reached (translated from psycopg
                               at the boundary in ingest/db.py)
"""

from __future__ import annotations


class IngestError(Exception):
    """Base class of every error ingest raises on purpose."""


class SettingsError(IngestError):
    """A setting is missing or malformed; the message names the variable."""


class MigrationError(IngestError):
    """The migrations cannot be applied as they are."""


class DatabaseUnavailableError(IngestError):
    """Connecting to the database failed (server down, wrong URL, refused credentials)."""
