"""The pages in a real browser: Debian's Chromium against the app on real uvicorn.

A nurse signs in, sees the worklist in triage order, opens the red patient, sees the
charts with their bands, acknowledges the alert and sees the patient leave the red
group; a fleet manager sees devices but no clinical page; a reading published through
the real MQTT -> ingest path raises an alert that appears in an open worklist.
Screenshots of the worklist, patient and fleet pages go to build/screenshots/.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page, ViewportSize, expect
from psycopg.types.range import Range

from api.app import create_app
from devices.reading import Flag, Kind, Reading, Unit, utc_now
from ingest.service import IngestService
from ingest.settings import Broker, IngestSettings
from tests.api.conftest import WorldDb, settings_for
from tests.api.server import serve
from tests.api.web.browser import CHROMIUM, VIEWPORT, chromium, screenshot
from tests.api.world import PASSWORD
from tests.fixtures.mosquitto import Mosquitto
from tests.ingest.gateway_double import GatewayDouble, batch

# A live alert must show within a few seconds (api.live polls every second).
LIVE_TIMEOUT_MS = 10_000
PAGE_TIMEOUT_MS = 10_000
# An upright 10.9" tablet's CSS viewport.
TABLET = ViewportSize(width=820, height=1180)
# Readings drawn on patient A's charts: hourly over the last day, one the cuff flagged.
RECENT_HOURS = 20
FLAGGED_HOUR = 3


@dataclass(frozen=True, kw_only=True)
class Site:
    url: str
    db: WorldDb
    # The patient without alerts added for the nurse (green, then red when live).
    green_patient: int


def _prepare(db: WorldDb) -> int:
    """Give nurse_a every team (red A, yellow B, blue C) and a green patient D with an
    oximeter on gateway gw-m1; add recent readings to A so the charts have points."""
    world = db.world
    now = utc_now()
    with psycopg.connect(db.url) as conn:
        for team in ("b", "c"):
            conn.execute(
                "INSERT INTO care_team_members (care_team_id, user_id) VALUES (%s, %s)",
                (world.teams[team], world.users["nurse_a"]),
            )
        row = conn.execute(
            "INSERT INTO patients (organization_id) VALUES (%s) RETURNING id",
            (world.organizations["m1"],),
        ).fetchone()
        assert row is not None
        patient = int(row[0])
        conn.execute(
            "INSERT INTO patient_identity (patient_id, name) VALUES (%s, 'Dorte Dahl')", (patient,)
        )
        conn.execute(
            "INSERT INTO care_team_patients (care_team_id, patient_id) VALUES (%s, %s)",
            (world.teams["a"], patient),
        )
        conn.execute(
            """INSERT INTO devices (id, organization_id, model, serial_number, lifecycle_state)
            VALUES ('ox-d', %s, 'nonin-3230', 'SN-ox-d', 'in_use')""",
            (world.organizations["m1"],),
        )
        conn.execute(
            "INSERT INTO device_assignments (device_id, patient_id, period) VALUES (%s, %s, %s)",
            ("ox-d", patient, Range(now - timedelta(days=2), None, "[)")),
        )
        conn.execute(
            """INSERT INTO thresholds (patient_id, kind, red_low, yellow_low, program, updated_at)
            VALUES (%s, 'spo2', 85, 88, 'copd', %s)""",
            (patient, now - timedelta(days=2)),
        )
        rows = []
        for hour in range(RECENT_HOURS):
            at = now - timedelta(hours=hour + 1)
            flags = [Flag.BODY_MOVEMENT.value] if hour == FLAGGED_HOUR else []
            for kind, unit, device, value in (
                ("systolic", "mm[Hg]", "bp-a", 130.0 + hour * 2),
                ("diastolic", "mm[Hg]", "bp-a", 80.0 + hour),
                ("pulse_rate", "/min", "bp-a", 70.0 + hour),
                ("spo2", "%", "ox-a", 95.0 - hour * 0.5),
            ):
                rows.append((at, device, kind, value, unit, world.patients["a"], flags, at))
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO readings (measured_at, device_id, kind, value, unit, patient_id,
                flags, gateway_id, received_at, batch_id)
                VALUES (%s, %s, %s, %s, %s, %s, %s, 'gw-m1', %s,
                        '00000000-0000-4000-8000-000000000002')""",
                rows,
            )
        conn.commit()
    return patient


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: run scripts/system-deps"
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        yield context


@pytest.fixture
def site(fresh_world_db: WorldDb) -> Iterator[Site]:
    green = _prepare(fresh_world_db)
    with serve(create_app(settings_for(fresh_world_db.url))) as url:
        yield Site(url=url, db=fresh_world_db, green_patient=green)


@pytest.fixture
def page(browser: BrowserContext, site: Site) -> Iterator[Page]:
    """The browser's page, signed out; left blank before ``site``'s server stops, so no
    live stream holds the server's shutdown."""
    browser.clear_cookies()
    found = browser.pages[0] if browser.pages else browser.new_page()
    yield found
    found.goto("about:blank")


def sign_in(page: Page, site: Site, name: str) -> None:
    page.goto(f"{site.url}/web/")
    expect(page).to_have_url(f"{site.url}/web/sign-in?next=/web/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def group_names(page: Page, group: str) -> list[str]:
    return page.locator(f'tbody[data-group="{group}"] tr.row td:nth-child(2)').all_inner_texts()


def test_nurse_triages_and_acknowledges_a_red_patient(page: Page, site: Site, browser) -> None:
    sign_in(page, site, "nurse_a")
    expect(page).to_have_url(f"{site.url}/web/worklist")
    groups = page.locator("tbody[data-group]")
    assert [groups.nth(i).get_attribute("data-group") for i in range(groups.count())] == [
        "red",
        "yellow",
        "blue",
        "green",
    ]
    assert page.locator("tr.row td:nth-child(2)").all_inner_texts() == [
        "Anna Andersen",
        "Bent Berg",
        "Carla Christensen",
        "Dorte Dahl",
    ]
    # Severity is written, not only coloured.
    expect(page.locator('tbody[data-group="red"] tr.row td').first).to_have_text("Red")
    expect(page.get_by_test_id("unacknowledged")).to_have_text("3")
    screenshot(browser, "worklist")
    # Keyboard: the first Tab reaches the skip link, Enter moves focus to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    # A tablet held upright: nothing wider than the screen.
    page.set_viewport_size(TABLET)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(browser, "worklist-tablet")
    page.set_viewport_size(VIEWPORT)

    page.locator('tbody[data-group="red"]').get_by_role("link", name="Anna Andersen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Anna Andersen")
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(4)
    spo2 = charts.nth(3)
    expect(spo2.locator('rect[data-band="red"]')).to_have_count(1)
    expect(spo2.locator('rect[data-band="yellow"]')).to_have_count(1)
    # The last day holds exactly the readings added here (the world's are older).
    page.get_by_role("link", name="Day").click()
    expect(page.get_by_role("link", name="Day")).to_have_attribute("aria-current", "page")
    pressure = charts.nth(0)
    expect(pressure).to_have_attribute("aria-label", "Systolic pressure (mm[Hg])")
    expect(pressure.locator('rect[data-band="red"]')).to_have_count(2)
    expect(pressure.locator('rect[data-band="yellow"]')).to_have_count(2)
    expect(pressure.locator('g[data-series="systolic"] circle.point')).to_have_count(
        RECENT_HOURS - 1
    )
    expect(pressure.locator('g[data-series="systolic"] path.flagged')).to_have_count(1)
    expect(pressure.locator("path.flagged").first).to_have_attribute("data-flags", "body_movement")
    screenshot(browser, "patient")

    red_alert = page.locator('tr[data-severity="red"][data-status="open"]')
    red_alert.get_by_label("Note").fill("Called her; SpO2 back at 94 %")
    red_alert.get_by_role("button", name="Acknowledge").click()
    expect(page.locator('tr[data-severity="red"]')).to_have_attribute("data-status", "acknowledged")
    expect(page.locator('tr[data-severity="red"]')).to_contain_text("Called her")

    page.get_by_role("link", name="Worklist").click()
    expect(page.locator('tbody[data-group="red"]')).to_have_count(0)
    assert "Anna Andersen" in group_names(page, "green")
    expect(page.get_by_test_id("unacknowledged")).to_have_text("2")


def unreviewed_of(page: Page, group: str) -> dict[str, str]:
    rows = page.locator(f'tbody[data-group="{group}"] tr.row')
    return {
        rows.nth(i).locator("td").nth(1).inner_text(): rows.nth(i)
        .get_by_test_id("unreviewed")
        .inner_text()
        for i in range(rows.count())
    }


def test_nurse_acknowledges_all_green_with_the_keyboard(page: Page, site: Site, browser) -> None:
    """Bent Berg (his yellow alert resolved) and Dorte Dahl (three new spot checks) are
    green; one confirmed action marks their measurements seen, and red Anna keeps hers."""
    world = site.db.world
    now = utc_now()
    with psycopg.connect(site.db.url) as conn:
        conn.execute(
            "UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE id = %s",
            (world.alerts["b"],),
        )
        for minutes in (30, 20, 10):
            at = now - timedelta(minutes=minutes)
            conn.execute(
                """INSERT INTO readings (measured_at, device_id, kind, value, unit, patient_id,
                gateway_id, received_at, batch_id) VALUES (%s, 'ox-d', 'spo2', 95, '%%', %s,
                'gw-m1', %s, '00000000-0000-4000-8000-000000000004')""",
                (at, site.green_patient, at),
            )
    sign_in(page, site, "nurse_a")
    expect(page).to_have_url(f"{site.url}/web/worklist")
    # Anna: the world's 24 spot measurements and 20 recent hours of cuff and oximeter.
    red_before = {"Anna Andersen": str(24 + 2 * RECENT_HOURS)}
    assert unreviewed_of(page, "red") == red_before
    assert unreviewed_of(page, "green") == {"Bent Berg": "12", "Dorte Dahl": "3"}

    summary = page.locator("#acknowledge-green summary")
    expect(summary).to_have_text("Acknowledge all green")
    confirm = page.get_by_role("button", name="Confirm")
    expect(confirm).to_be_hidden()
    summary.focus()
    page.keyboard.press("Enter")
    expect(confirm).to_be_visible()
    expect(page.locator("#acknowledge-green")).to_contain_text("left out")
    page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{site.url}/web/worklist")
    expect(page.locator('tbody[data-group="green"]').get_by_test_id("unreviewed")).to_have_text(
        ["0", "0"]
    )
    assert unreviewed_of(page, "green") == {"Bent Berg": "0", "Dorte Dahl": "0"}
    assert unreviewed_of(page, "red") == red_before
    screenshot(browser, "worklist-reviewed")


def test_fleet_manager_sees_devices_but_no_clinical_page(page: Page, site: Site, browser) -> None:
    sign_in(page, site, "fleet_m1")
    expect(page).to_have_url(f"{site.url}/web/fleet")
    devices = page.locator("tr[data-device]")
    expect(devices).to_have_count(5)
    expect(page.locator('tr[data-device="bp-a"]')).to_contain_text("Anna Andersen")
    expect(page.locator('tr[data-device="bp-a"]')).to_contain_text("SN-bp-a")
    expect(page.locator('tr[data-gateway="gw-m1"]')).to_contain_text("Online")
    screenshot(browser, "fleet")

    patient = site.db.world.patients["a"]
    for path in (f"/web/patients/{patient}", "/web/worklist"):
        response = page.goto(f"{site.url}{path}")
        assert response is not None
        assert response.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text("You may not see this page.")

    # Danish, chosen by a link and remembered by a cookie on the next page.
    page.goto(f"{site.url}/web/fleet")
    page.get_by_role("link", name="Dansk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Udstyr")
    page.goto(f"{site.url}/web/")
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.get_by_role("button", name="Log ud")).to_be_visible()


def test_live_alert_appears_in_an_open_worklist(
    page: Page, site: Site, mosquitto: Mosquitto
) -> None:
    settings = IngestSettings(
        database_url=site.db.url,
        broker=Broker.from_url(mosquitto.url),
        client_id=f"ingest-{uuid.uuid4().hex[:8]}",
        max_delay=0.1,
    )
    service = IngestService(settings)
    service.start()
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,))
    thread.start()
    gateway = GatewayDouble(
        mosquitto.host, mosquitto.port, client_id="web-gateway", gateway_ids=("gw-m1",)
    )
    try:
        sign_in(page, site, "nurse_a")
        expect(page.locator("#live-status.connected")).to_have_count(1)
        assert "Dorte Dahl" in group_names(page, "green")
        low = Reading(
            device_id="ox-d",
            kind=Kind.SPO2,
            value=80.0,
            unit=Unit.PERCENT,
            measured_at=utc_now() - timedelta(seconds=5),
        )
        gateway.publish([batch("gw-m1", [low])])
        red = page.locator('tbody[data-group="red"] tr.row', has_text="Dorte Dahl")
        expect(red).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    finally:
        gateway.close()
        stop.set()
        thread.join(30)
        service.close()
