"""The demo's secrets: a random password per demo user and the api's token key.

Generated once per data directory and kept there (``credentials.json``, readable by its
owner only), so a second run prints the same logins; never part of the repository.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

FILE_NAME = "credentials.json"
# Owner read/write only: the file holds passwords.
FILE_MODE = 0o600
# secrets.token_urlsafe(n) draws n random bytes: 12 bytes (96 bits) is a password nobody
# guesses yet types comfortably; 48 bytes clears the api's 32-byte minimum secret
# (api/settings.py MIN_SECRET_BYTES) once base64 encoded.
PASSWORD_BYTES = 12
SECRET_BYTES = 48
# What the api demands of TELECARE_API_SECRET (api/settings.py MIN_SECRET_BYTES).
MIN_SECRET_CHARS = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Username -> password, and the api's HMAC secret."""

    passwords: Mapping[str, str]
    api_secret: str

    def __post_init__(self) -> None:
        if len(self.api_secret) < MIN_SECRET_CHARS:
            raise ValueError(f"the api secret needs {MIN_SECRET_CHARS} characters or more")
        object.__setattr__(self, "passwords", MappingProxyType(dict(self.passwords)))


def load_or_create(directory: Path, *, usernames: Iterable[str]) -> Credentials:
    """The directory's credentials; missing users get a new random password."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE_NAME
    stored: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}
    raw_passwords = stored.get("passwords", {})
    passwords = dict(raw_passwords) if isinstance(raw_passwords, dict) else {}
    for username in usernames:
        passwords.setdefault(username, secrets.token_urlsafe(PASSWORD_BYTES))
    secret = stored.get("api_secret")
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_CHARS:
        secret = secrets.token_urlsafe(SECRET_BYTES)
    credentials = Credentials(passwords=passwords, api_secret=secret)
    _write(path, credentials)
    return credentials


def _write(path: Path, credentials: Credentials) -> None:
    text = json.dumps(
        {"passwords": dict(credentials.passwords), "api_secret": credentials.api_secret},
        indent=2,
        sort_keys=True,
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "w") as file:
        file.write(text + "\n")
    path.chmod(FILE_MODE)
