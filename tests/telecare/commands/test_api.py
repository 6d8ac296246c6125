"""``telecare api``: serves the app; bad settings are one line and exit 2."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import httpx2

from telecare.commands import api
from tests.fixtures.postgres import free_port


def telecare(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="telecare")
    api.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_missing_settings_exit_2(monkeypatch, capsys):
    monkeypatch.delenv("TELECARE_DATABASE_URL", raising=False)
    assert telecare("api") == 2
    assert capsys.readouterr().err == "error: TELECARE_DATABASE_URL is not set\n"


def test_it_serves_health_and_openapi(database_url):
    port = free_port()
    env = {
        **os.environ,
        "TELECARE_DATABASE_URL": database_url,
        "TELECARE_API_SECRET": "x" * 32,
        "TELECARE_API_PORT": str(port),
    }
    server = subprocess.Popen([sys.executable, "-m", "telecare.commands.api"], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx2.TransportError:
                assert server.poll() is None, "the api exited"
                assert time.monotonic() < deadline, "the api did not start"
                time.sleep(0.1)
        assert response.json() == {"status": "ok"}
        assert httpx2.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"]
    finally:
        server.terminate()
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.wait(30) in (0, -signal.SIGTERM)
