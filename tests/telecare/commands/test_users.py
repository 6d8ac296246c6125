"""``telecare users``: organizations and accounts from the command line."""

from __future__ import annotations

import argparse
import io

import psycopg
import pytest

from api.password import verify_password
from telecare.commands import users

PASSWORD = "a long enough password"


def telecare(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="telecare")
    users.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


@pytest.fixture
def stdin(monkeypatch):
    def feed(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text))

    return feed


def test_create_list_disable_and_set_password(database_url, stdin, capsys):
    url = ("--database-url", database_url)
    assert telecare("users", *url, "create-organization", "--kind", "region", "Region Nord") == 0
    stdin(PASSWORD + "\n")
    assert (
        telecare(
            "users", *url, "create", "nurse1", "--organization", "Region Nord", "--role", "nurse"
        )
        == 0
    )
    assert telecare("users", *url, "list") == 0
    out = capsys.readouterr().out
    assert "organization 1 'Region Nord' created" in out
    assert "user 1 'nurse1' created (nurse)" in out
    assert out.endswith("id\tusername\trole\torganization\tstate\n1\tnurse1\tnurse\t1\tenabled\n")

    stdin("another long password\n")
    assert telecare("users", *url, "set-password", "nurse1") == 0
    assert telecare("users", *url, "disable", "nurse1") == 0
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT password_hash, disabled_at FROM users").fetchone()
    assert row is not None
    assert verify_password(row[0], "another long password")
    assert row[1] is not None


def test_errors_are_one_line_and_exit_2(database_url, stdin, capsys):
    url = ("--database-url", database_url)
    assert telecare("users", *url, "disable", "ghost") == 2
    assert capsys.readouterr().err == "error: no user 'ghost'\n"
    stdin("short\n")
    telecare("users", *url, "create-organization", "--kind", "practice", "Lægehuset")
    assert (
        telecare("users", *url, "create", "x", "--organization", "Lægehuset", "--role", "nurse")
        == 2
    )
    assert "a password has 12 to 256 characters" in capsys.readouterr().err


def test_no_database_url(monkeypatch, capsys):
    monkeypatch.delenv("TELECARE_DATABASE_URL", raising=False)
    assert telecare("users", "list") == 2
    assert capsys.readouterr().err == "error: give --database-url or set TELECARE_DATABASE_URL\n"


def test_users_of_an_external_identity_provider(database_url, stdin, capsys):
    url = ("--database-url", database_url)
    issuer = "https://idp.region.example/realms/care"
    telecare("users", *url, "create-organization", "--kind", "region", "Region Syd")
    sso = ("--oidc-issuer", issuer, "--oidc-subject", "sso-1")
    assert telecare("users", *url, "create", "doc1", "--organization", "Region Syd",
                    "--role", "clinician", *sso) == 0  # fmt: skip
    stdin(PASSWORD + "\n")
    assert telecare("users", *url, "create", "nurse2", "--organization", "Region Syd",
                    "--role", "nurse") == 0  # fmt: skip
    link = ("--issuer", issuer, "--subject", "sso-2")
    assert telecare("users", *url, "link-oidc", "nurse2", *link) == 0
    assert f"'nurse2' signs in as 'sso-2' of {issuer}" in capsys.readouterr().out
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT username, password_hash IS NOT NULL, external_issuer, external_subject "
            "FROM users ORDER BY username"
        ).fetchall()
    assert rows == [("doc1", False, issuer, "sso-1"), ("nurse2", True, issuer, "sso-2")]

    half = ("--oidc-issuer", issuer)
    assert telecare("users", *url, "create", "x", "--organization", "Region Syd",
                    "--role", "nurse", *half) == 2  # fmt: skip
    assert "give both --oidc-issuer and --oidc-subject" in capsys.readouterr().err
    assert telecare("users", *url, "link-oidc", "doc1", *link) == 2
    assert "already exists" in capsys.readouterr().err
