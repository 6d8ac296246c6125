"""Argon2id password hashing."""

from __future__ import annotations

import pytest

from api.errors import InvalidError
from api.password import hash_password, needs_rehash, verify_password


def test_hash_and_verify():
    hashed = hash_password("twelve chars!")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "twelve chars!")
    assert not verify_password(hashed, "twelve chars?")
    assert not needs_rehash(hashed)


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$broken"])
def test_missing_or_broken_hashes_never_match(stored):
    assert not verify_password(stored, "twelve chars!")


@pytest.mark.parametrize("password", ["short", "x" * 257])
def test_password_length_is_bounded(password):
    with pytest.raises(InvalidError):
        hash_password(password)
    assert not verify_password(hash_password("twelve chars!"), "x" * 10_000)
