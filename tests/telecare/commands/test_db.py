"""``telecare db migrate``: progress, idempotence, one-line errors."""

from __future__ import annotations

import argparse

import psycopg

from telecare.commands import db
from tests.fixtures.mosquitto import free_port


def telecare(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="telecare")
    db.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_migrate_applies_every_migration_once(empty_database_url, capsys):
    assert telecare("db", "migrate", "--database-url", empty_database_url) == 0
    first = capsys.readouterr()
    assert first.out.endswith("migration(s) applied\n")
    assert "applying migration 0001_organizations" in first.err
    with psycopg.connect(empty_database_url) as conn:
        applied = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert applied is not None
    assert first.out == f"{applied[0]} migration(s) applied\n"

    assert telecare("db", "migrate", "--database-url", empty_database_url) == 0
    assert capsys.readouterr().out == "already up to date\n"


def test_the_url_may_come_from_the_environment(empty_database_url, monkeypatch, capsys):
    monkeypatch.setenv("TELECARE_DATABASE_URL", empty_database_url)
    assert telecare("db", "migrate") == 0
    assert "applied" in capsys.readouterr().out


def test_no_url_at_all(monkeypatch, capsys):
    monkeypatch.delenv("TELECARE_DATABASE_URL", raising=False)
    assert telecare("db", "migrate") == 2
    assert capsys.readouterr().err == "error: give --database-url or set TELECARE_DATABASE_URL\n"


def test_an_unreachable_database_is_one_line(capsys):
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/telecare"
    assert telecare("db", "migrate", "--database-url", url) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect to the database: ")
    assert err.count("\n") == 1
