"""Screenshots of the web pages taken from the running demo, for the README.

    scripts/demo-screenshot [--out docs/images] [--speed 1] [--timeout 900]

Starts ``telecare demo`` in a fresh data directory (its own Mosquitto and PostgreSQL on
free ports, the api on a free port), waits until the simulated households have raised
red, yellow and blue alerts (every red household its red one), signs in as the demo nurse
in Debian's Chromium, driven by Playwright and launched exactly as the browser tests
launch it (tests/api/web/browser.py), and writes ``worklist.png`` (its first screen),
``worklist-full.png`` (the whole list, at half size) and ``patient.png`` (the first screen
of the worst patient's page). The demo is stopped and its data directory removed
afterwards. Run from the repository root through ``scripts/demo-screenshot`` (the
project's virtual environment).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from devices.simulator import Scenario
from telecare.demo.plan import running_gateways
from telecare.embedded.port import free_port
from tests.api.web.browser import CHROMIUM, chromium

DEMO_NURSE = "nurse"  # telecare/demo/plan.py USERS
# The alerts a README reader should see: every severity of the worklist, and a red one
# for every household whose scenario promises one (devices/simulator/scenario.py).
SEVERITIES = frozenset({"red", "yellow", "blue"})
RED_SCENARIOS = frozenset(
    {Scenario.HYPERTENSIVE_CRISIS, Scenario.HYPOTENSION, Scenario.DESATURATION}
)
# The demo's households raise them "in the first minutes" (README); a loaded machine or a
# first run's initdb may take longer, so the deadline is generous.
DEFAULT_TIMEOUT_S = 900.0
START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 120.0
POLL_S = 2.0
PAGE_TIMEOUT_MS = 30_000
# The whole worklist is drawn at this scale (20 patients at full size: 4000 pixels tall).
OVERVIEW_SCALE = 0.5
# The data directory must be enterable by the postgres user when run as root
# (telecare/demo/run.py keeps the cluster inside it only then).
DATA_DIR_MODE = 0o711
REPOSITORY = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 2)[2])
    parser.add_argument("--out", type=Path, default=REPOSITORY / "docs" / "images")
    parser.add_argument("--speed", type=float, default=1.0, help="the demo's --speed")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print("error: Debian's chromium is missing: run scripts/system-deps", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="telecare-demo-") as scratch:
        data_dir = Path(scratch) / "demo"
        data_dir.mkdir()
        Path(scratch).chmod(DATA_DIR_MODE)
        data_dir.chmod(DATA_DIR_MODE)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = Path(scratch) / "demo.log"
        with log_path.open("wb") as log:
            demo = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "telecare"),
                    "demo",
                    f"--data-dir={data_dir}",
                    f"--api-port={port}",
                    f"--speed={args.speed}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_for_health(url, demo, log_path)
            password = _password(data_dir, DEMO_NURSE)
            _wait_for_alerts(url, password, demo, log_path, timeout=args.timeout)
            _screenshots(url, password, profile=Path(scratch) / "chromium", out=args.out)
        finally:
            _stop(demo)
    print(f"wrote worklist.png, worklist-full.png and patient.png to {args.out}")
    return 0


def _running(demo: subprocess.Popen[bytes], log_path: Path) -> None:
    if demo.poll() is not None:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"telecare demo exited ({demo.returncode}):\n{tail}")


def _wait_for_health(url: str, demo: subprocess.Popen[bytes], log_path: Path) -> None:
    print(f"starting telecare demo (api {url}) ...", flush=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        _running(demo, log_path)
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the demo's api did not answer within {START_TIMEOUT_S:.0f} s")
        time.sleep(POLL_S)


def _password(data_dir: Path, username: str) -> str:
    stored: dict[str, Any] = json.loads((data_dir / "credentials.json").read_text())
    password: str = stored["passwords"][username]
    return password


def _request(url: str, *, data: dict[str, str] | None = None, token: str = "") -> Any:
    body = None if data is None else urllib.parse.urlencode(data).encode()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_for_alerts(
    url: str, password: str, demo: subprocess.Popen[bytes], log_path: Path, *, timeout: float
) -> None:
    """Until the nurse's open alerts include every severity and every red household
    (asked through the api): the desaturations take about eight minutes."""
    deadline = time.monotonic() + timeout
    red_households = sum(
        bool(RED_SCENARIOS.intersection(scenarios))
        for gateway in running_gateways()
        for scenarios in gateway.households
    )
    seen: set[str] = set()
    red_patients = 0
    while not (seen >= SEVERITIES and red_patients >= red_households):
        _running(demo, log_path)
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"only {sorted(seen)} alerts, {red_patients} red patients after {timeout:.0f} s"
            )
        time.sleep(POLL_S)
        login = {"grant_type": "password", "username": DEMO_NURSE, "password": password}
        token = _request(f"{url}/auth/token", data=login)["access_token"]
        alerts = _request(f"{url}/alerts?status=open&limit=1000", token=token)
        now = {alert["severity"] for alert in alerts}
        red_now = len({alert["patient_id"] for alert in alerts if alert["severity"] == "red"})
        if (now, red_now) != (seen, red_patients):
            print(
                f"  open alerts: {', '.join(sorted(now)) or 'none'} ({red_now} red patients)",
                flush=True,
            )
        seen, red_patients = now, red_now


def _screenshots(url: str, password: str, *, profile: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with chromium(profile) as context:
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{url}/web/sign-in")
        page.get_by_label("User name").fill(DEMO_NURSE)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{url}/web/worklist")
        expect(page.locator("#live-status.connected")).to_have_count(1)
        _shoot(page, out / "worklist.png", full_page=False)
        # The whole list, so every severity group shows, worst first; at half size, so
        # the image stays small.
        _shoot_scaled(page, out / "worklist-full.png", scale=OVERVIEW_SCALE)
        page.locator('tbody[data-group="red"] tr.row a').first.click()
        expect(page.locator("svg.chart").first).to_be_visible()
        _shoot(page, out / "patient.png", full_page=False)
        page.goto("about:blank")  # close the live stream before the demo stops


def _shoot(page: Page, path: Path, *, full_page: bool) -> None:
    """The page at 1280 pixels wide (the issue's smallest desktop); all of it, or the
    first screen as a person sees it."""
    page.screenshot(path=str(path), full_page=full_page)
    print(f"  {path.name}: {page.url}", flush=True)


def _shoot_scaled(page: Page, path: Path, *, scale: float) -> None:
    """All of the page, laid out at 1280 pixels wide but drawn ``scale`` times as large.
    Playwright's screenshot has no scale, so this asks Chromium directly (DevTools
    protocol, Page.captureScreenshot with a clip scale)."""
    width, height = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    session = page.context.new_cdp_session(page)
    try:
        shot = session.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": scale},
            },
        )
    finally:
        session.detach()
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"  {path.name}: {page.url} (scale {scale})", flush=True)


def _stop(demo: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as Ctrl-C would: the demo stops its children and servers itself."""
    if demo.poll() is None:
        demo.terminate()
        try:
            demo.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()


if __name__ == "__main__":
    sys.exit(main())
