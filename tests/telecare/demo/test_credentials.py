"""The demo's credentials file: random once per data directory, then the same."""

from __future__ import annotations

import json
import stat

from telecare.demo.credentials import FILE_MODE, FILE_NAME, MIN_SECRET_CHARS, load_or_create


def test_a_new_directory_gets_random_passwords_kept_private(tmp_path):
    credentials = load_or_create(tmp_path, usernames=("nurse", "clinician"))
    other = load_or_create(tmp_path / "elsewhere", usernames=("nurse", "clinician"))
    assert set(credentials.passwords) == {"nurse", "clinician"}
    assert credentials.passwords["nurse"] != credentials.passwords["clinician"]
    assert credentials.passwords != other.passwords
    assert credentials.api_secret != other.api_secret
    assert len(credentials.api_secret) >= MIN_SECRET_CHARS
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == FILE_MODE


def test_a_second_load_returns_the_same_and_adds_new_users(tmp_path):
    first = load_or_create(tmp_path, usernames=("nurse",))
    second = load_or_create(tmp_path, usernames=("nurse", "auditor"))
    assert second.passwords["nurse"] == first.passwords["nurse"]
    assert second.api_secret == first.api_secret
    assert set(second.passwords) == {"nurse", "auditor"}
    stored = json.loads((tmp_path / FILE_NAME).read_text())
    assert stored == {"passwords": dict(second.passwords), "api_secret": second.api_secret}
