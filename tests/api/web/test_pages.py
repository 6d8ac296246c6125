"""The web pages over HTTP: sessions, CSRF, authorization, audit, languages, actions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.web.cookie import ACCESS_COOKIE, REFRESH_COOKIE
from api.web.render import count
from devices.reading import utc_now
from tests.api.conftest import mint
from tests.api.web.conftest import sign_in
from tests.api.world import PASSWORD

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None
    return found.group(1)


def audit_rows(sql, user: int, patient: int) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = sql(
        "SELECT action, resource, outcome FROM audit_log WHERE user_id = %s AND patient_id = %s "
        "ORDER BY id",
        (user, patient),
    )
    return rows


def test_pages_need_a_session(browser_client: TestClient) -> None:
    response = browser_client.get("/web/worklist?severity=red&team=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/web/sign-in?next=/web/worklist%3Fseverity%3Dred%26team%3D1"
    )
    form = browser_client.get(response.headers["location"])
    assert 'name="next" value="/web/worklist?severity=red&amp;team=1"' in form.text


def test_sign_in_sets_strict_secure_http_only_cookies(browser_client: TestClient) -> None:
    response = browser_client.post(
        "/web/sign-in",
        data={"username": "nurse_a", "password": PASSWORD, "next": "/web/worklist"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/web/worklist"
    cookies = response.headers.get_list("set-cookie")
    assert {cookie.split("=", 1)[0] for cookie in cookies} == {ACCESS_COOKIE, REFRESH_COOKIE}
    for cookie in cookies:
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite=strict", "path=/web"} <= attributes


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/web/\\evil"])
def test_sign_in_never_redirects_off_site(browser_client: TestClient, target: str) -> None:
    response = browser_client.post(
        "/web/sign-in",
        data={"username": "nurse_a", "password": PASSWORD, "next": target},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/web/"


def test_wrong_password_then_rate_limited(browser_client: TestClient, sql, world) -> None:
    statuses = [
        browser_client.post(
            "/web/sign-in", data={"username": "nurse_a", "password": "wrong"}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    page = browser_client.post("/web/sign-in", data={"username": "nurse_a", "password": "x"})
    assert "Too many failed sign-ins" in page.text
    denied = sql(
        "SELECT count(*) FROM audit_log WHERE action = 'login' AND outcome = 'denied' "
        "AND detail->>'username' = 'nurse_a'"
    )
    # As /auth/token: failed passwords are audited; refusals by the rate limit are not.
    assert denied == [(5,)]


def test_patient_page_is_audited_like_the_api_reads(signed_in, sql, world) -> None:
    client = signed_in("nurse_a")
    patient = world.patients["a"]
    response = client.get(f"/web/patients/{patient}")
    assert response.status_code == 200
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert audit_rows(sql, world.users["nurse_a"], patient) == [
        ("read", "patients/{patient_id}", "success"),
        ("read", "patients/{patient_id}/readings", "success"),
        ("read", "patients/{patient_id}/thresholds", "success"),
        ("read", "patients/{patient_id}/plan", "success"),
        ("read", "patients/{patient_id}/oximetry-nights", "success"),
        ("search", "alerts", "success"),
    ]


def test_foreign_patient_is_not_found_and_audited(signed_in, sql, world) -> None:
    client = signed_in("nurse_a")
    foreign = world.patients["c"]
    response = client.get(f"/web/patients/{foreign}")
    assert response.status_code == 404
    assert "Not found." in response.text
    assert audit_rows(sql, world.users["nurse_a"], foreign) == [
        ("read", "patients/{patient_id}", "denied")
    ]


def test_fleet_manager_gets_no_clinical_page(signed_in, world) -> None:
    client = signed_in("fleet_m1")
    for path in ("/web/worklist", f"/web/patients/{world.patients['a']}", "/web/me"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "You may not see this page." in response.text


def test_acknowledge_needs_the_session_csrf_token(signed_in, sql, world) -> None:
    client = signed_in("nurse_a")
    alert = world.alerts["a"]
    refused = client.post(
        f"/web/alerts/{alert}/acknowledge", data={"csrf": "0" * 64}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert sql("SELECT status FROM alerts WHERE id = %s", (alert,)) == [("open",)]
    token = csrf_of(client.get("/web/worklist").text)
    done = client.post(
        f"/web/alerts/{alert}/acknowledge",
        data={"csrf": token, "note": "seen", "next": "/web/worklist"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/web/worklist"
    assert sql("SELECT status, acknowledgement_note FROM alerts WHERE id = %s", (alert,)) == [
        ("acknowledged", "seen")
    ]
    again = client.post(f"/web/alerts/{alert}/acknowledge", data={"csrf": token})
    assert again.status_code == 409


def test_resolve_from_the_patient_page(signed_in, sql, world) -> None:
    client = signed_in("nurse_a")
    token = csrf_of(client.get("/web/worklist").text)
    response = client.post(f"/web/alerts/{world.alerts['a']}/resolve", data={"csrf": token})
    assert response.status_code == 200
    assert sql("SELECT status FROM alerts WHERE id = %s", (world.alerts["a"],)) == [("resolved",)]


def test_worklist_filters_by_team_and_severity(signed_in, sql, world) -> None:
    sql(
        "INSERT INTO care_team_members (care_team_id, user_id) VALUES (%s, %s)",
        (world.teams["b"], world.users["nurse_a"]),
    )
    client = signed_in("nurse_a")
    names = re.compile(r'<a href="/web/patients/\d+">([^<]+)</a>')
    assert names.findall(client.get("/web/worklist").text) == ["Anna Andersen", "Bent Berg"]
    assert names.findall(client.get("/web/worklist?severity=yellow").text) == ["Bent Berg"]
    team_b = client.get(f"/web/worklist?team={world.teams['b']}").text
    assert names.findall(team_b) == ["Bent Berg"]
    assert names.findall(client.get("/web/worklist/rows?severity=red").text) == ["Anna Andersen"]


def test_acknowledge_all_green_from_the_worklist(signed_in, sql, world) -> None:
    sql(
        "UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE id = %s",
        (world.alerts["a"],),
    )
    client = signed_in("nurse_a")
    page = client.get(f"/web/worklist?team={world.teams['a']}").text
    assert "Acknowledge all green" in page
    unreviewed = re.compile(r'<td data-testid="unreviewed">(\d+)</td>')
    assert unreviewed.findall(page) == ["24"]
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    assert form["team"] == str(world.teams["a"])
    assert form["next"] == f"/web/worklist?team={world.teams['a']}"
    refused = client.post("/web/reviews/green", data={**form, "csrf": "0" * 64})
    assert refused.status_code == 403
    malformed = client.post("/web/reviews/green", data={**form, "up_to": "yesterday"})
    assert malformed.status_code == 422
    assert sql("SELECT count(*) FROM patient_reviews") == [(0,)]

    done = client.post("/web/reviews/green", data=form, follow_redirects=False)

    assert done.status_code == 303
    assert done.headers["location"] == form["next"]
    assert audit_rows(sql, world.users["nurse_a"], world.patients["a"])[-1] == (
        "acknowledge",
        "patients/reviews/green",
        "success",
    )
    assert unreviewed.findall(client.get(form["next"]).text) == ["0"]


def test_acknowledge_all_green_is_for_care_roles(signed_in, sql, world) -> None:
    client = signed_in("fleet_m1")
    token = csrf_of(client.get("/web/fleet").text)
    response = client.post(
        "/web/reviews/green", data={"csrf": token, "up_to": utc_now().isoformat()}
    )
    assert response.status_code == 403
    assert sql("SELECT count(*) FROM patient_reviews") == [(0,)]


def test_danish_is_chosen_and_remembered(signed_in) -> None:
    client = signed_in("nurse_a")
    response = client.get("/web/language/da?next=/web/worklist", follow_redirects=False)
    assert response.headers["location"] == "/web/worklist"
    page = client.get("/web/worklist")
    assert '<html lang="da">' in page.text
    assert "<h1>Arbejdsliste</h1>" in page.text
    assert "Kvittér" in page.text


def test_expired_access_token_is_renewed_with_the_refresh_cookie(signed_in, world) -> None:
    client = signed_in("nurse_a")
    old_refresh = client.cookies[REFRESH_COOKIE]
    expired = mint(world, "nurse_a", now=utc_now() - timedelta(hours=1))
    # The test client keeps cookies of "testserver" under the domain "testserver.local".
    client.cookies.set(ACCESS_COOKIE, expired, domain="testserver.local", path="/web")
    response = client.get("/web/worklist", follow_redirects=False)
    assert response.status_code == 200
    renewed = {cookie.split("=", 1)[0] for cookie in response.headers.get_list("set-cookie")}
    assert renewed == {ACCESS_COOKIE, REFRESH_COOKIE}
    assert client.cookies[REFRESH_COOKIE] != old_refresh
    assert client.get("/web/worklist", follow_redirects=False).status_code == 200
    # The spent refresh token is not accepted again: with both cookies stale, sign in anew.
    client.cookies.set(ACCESS_COOKIE, expired, domain="testserver.local", path="/web")
    client.cookies.set(REFRESH_COOKIE, old_refresh, domain="testserver.local", path="/web")
    assert client.get("/web/worklist", follow_redirects=False).status_code == 303


def test_sign_out_revokes_the_session(signed_in, sql, world) -> None:
    client = signed_in("nurse_a")
    token = csrf_of(client.get("/web/worklist").text)
    response = client.post("/web/sign-out", data={"csrf": token}, follow_redirects=False)
    assert response.headers["location"] == "/web/sign-in"
    assert sql(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = %s AND revoked_at IS NULL",
        (world.users["nurse_a"],),
    ) == [(0,)]
    assert client.get("/web/worklist", follow_redirects=False).status_code == 303


def test_clinician_edits_thresholds_and_a_nurse_may_not(signed_in, sql, world) -> None:
    patient = world.patients["a"]
    nurse = signed_in("nurse_a")
    token = csrf_of(nurse.get(f"/web/patients/{patient}").text)
    form = {"csrf": token, "red_low": "84", "yellow_low": "89,5"}
    assert nurse.post(f"/web/patients/{patient}/thresholds/spo2", data=form).status_code == 403
    clinician = sign_in(nurse, "clinician_a")
    page = clinician.get(f"/web/patients/{patient}")
    assert 'id="spo2-red_low"' in page.text
    form["csrf"] = csrf_of(page.text)
    response = clinician.post(
        f"/web/patients/{patient}/thresholds/spo2", data=form, follow_redirects=False
    )
    assert response.status_code == 303
    assert sql(
        "SELECT red_low, yellow_low FROM thresholds WHERE patient_id = %s AND kind = 'spo2'",
        (patient,),
    ) == [(84.0, 89.5)]


def test_fleet_assign_transition_unassign_and_acknowledge(signed_in, sql, world) -> None:
    client = signed_in("fleet_m1")
    page = client.get("/web/fleet")
    assert page.status_code == 200
    assert "SN-spare-m1" in page.text
    assert "Anna Andersen" in page.text
    token = csrf_of(page.text)
    patient = world.patients["b"]
    steps = [
        ("/web/fleet/devices/spare-m1/assign", {"patient_id": str(patient)}),
        ("/web/fleet/devices/spare-m1/unassign", {}),
        (f"/web/fleet/alerts/{world.alerts['tech_m1']}/acknowledge", {}),
    ]
    for path, form in steps:
        response = client.post(path, data={"csrf": token, **form}, follow_redirects=False)
        assert response.status_code == 303, (path, response.text)
    assert sql(
        "SELECT patient_id, upper_inf(period) FROM device_assignments WHERE device_id = 'spare-m1'"
    ) == [(patient, False)]
    assert sql("SELECT status FROM alerts WHERE id = %s", (world.alerts["tech_m1"],)) == [
        ("acknowledged",)
    ]
    state = sql("SELECT lifecycle_state FROM devices WHERE id = 'spare-m1'")[0][0]
    response = client.post(
        "/web/fleet/devices/spare-m1/transition",
        data={"csrf": token, "to": "retired" if state == "in_stock" else "cleaning"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert sql("SELECT lifecycle_state FROM devices WHERE id = 'spare-m1'") != [(state,)]


def test_patient_sees_own_readings_and_who_looked(signed_in, world) -> None:
    client = signed_in("nurse_a")
    client.get(f"/web/patients/{world.patients['a']}")
    own = sign_in(client, "patient_a").get("/web/me")
    assert own.status_code == 200
    assert "Your recent measurements" in own.text
    assert "Nurse A" in own.text
    assert own.text.count('<svg class="chart"') == 4


def test_auditor_reads_a_patients_trail(signed_in, world) -> None:
    nurse = signed_in("nurse_a")
    nurse.get(f"/web/patients/{world.patients['a']}")
    client = sign_in(nurse, "auditor_m1")
    assert client.get("/web/", follow_redirects=False).headers["location"] == "/web/audit"
    page = client.get(f"/web/audit?patient_id={world.patients['a']}")
    assert page.status_code == 200
    assert "<td>Nurse A</td><td>nurse</td><td>Aarhus Kommune</td>" in page.text
    assert client.get(f"/web/audit?patient_id={world.patients['c']}").status_code == 404


def test_static_files_and_unknown_ones(browser_client: TestClient) -> None:
    assert browser_client.get("/web/static/app.css").headers["content-type"].startswith("text/css")
    assert browser_client.get("/web/static/app.js").status_code == 200
    assert browser_client.get("/web/static/..%2Fcookie.py").status_code == 404


def test_clinician_sets_a_measurement_schedule(signed_in, sql, world) -> None:
    patient = world.patients["a"]
    client = signed_in("clinician_a")
    page = client.get(f"/web/patients/{patient}")
    assert 'id="times-spo2"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "times": "08:00, 20:30",
        "weekday": ["1", "3", "5"],
        "grace_minutes": "90",
    }
    response = client.post(
        f"/web/patients/{patient}/schedules/spo2", data=form, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert sql(
        "SELECT times_of_day::text[], weekdays, extract(epoch FROM grace)::int "
        "FROM measurement_schedules WHERE patient_id = %s AND kind = 'spo2'",
        (patient,),
    ) == [(["08:00:00", "20:30:00"], [1, 3, 5], 5400)]
    shown = client.get(f"/web/patients/{patient}").text
    assert 'value="08:00:00 20:30:00"' in shown
    bad = client.post(
        f"/web/patients/{patient}/schedules/spo2", data={**form, "times": "eight o'clock"}
    )
    assert bad.status_code == 422


def test_fleet_page_shows_gateway_conditions_and_swapped_devices(signed_in, sql) -> None:
    sql("UPDATE gateways SET status_flags = '{outbox_full}' WHERE id = 'gw-m1'")
    sql("UPDATE devices SET reported_serial = 'SN-elsewhere' WHERE id = 'spare-m1'")
    page = signed_in("fleet_m1").get("/web/fleet")
    gateway = re.search(r'<tr data-gateway="gw-m1">.*?</tr>', page.text, re.S)
    assert gateway is not None
    assert "outbox full" in gateway.group()
    device = re.search(r'<tr data-device="spare-m1">.*?</tr>', page.text, re.S)
    assert device is not None
    assert "(reports SN-elsewhere)" in device.group()


@pytest.mark.parametrize(("value", "shown"), [(0, "0"), (99, "99"), (100, "100+"), (250, "100+")])
def test_a_capped_count_says_so(value, shown) -> None:
    assert count(value, cap=100) == shown
