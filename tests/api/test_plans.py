"""Thresholds, enrolment, schedules, passive periods and oximetry nights of a patient."""

from __future__ import annotations

from tests.api.conftest import bearer, mint


def url(world, path: str, patient: str = "a") -> str:
    return f"/patients/{world.patients[patient]}/{path}"


def test_thresholds_read_and_history(client, headers, world):
    found = client.get(url(world, "thresholds"), headers=headers("nurse_a")).json()
    assert [(t["kind"], t["red_low"], t["yellow_low"]) for t in found] == [
        ("spo2", 85.0, 88.0),
        ("systolic", 90.0, 100.0),
    ]
    history = client.get(url(world, "thresholds/history"), headers=headers("nurse_a")).json()
    assert {v["kind"] for v in history} == {"spo2", "systolic"}
    assert client.get(url(world, "thresholds", "b"), headers=headers("nurse_a")).status_code == 404


def test_clinicians_update_thresholds_validated_and_kept_in_history(
    fresh_client, fresh_world_db, sql
):
    world = fresh_world_db.world
    clinician = bearer(mint(world, "clinician_a"))
    body = {"red_low": 86.0, "yellow_low": 90.0}
    response = fresh_client.put(url(world, "thresholds/spo2"), json=body, headers=clinician)
    assert response.status_code == 200
    spo2 = next(t for t in response.json() if t["kind"] == "spo2")
    assert (spo2["red_low"], spo2["yellow_low"], spo2["updated_by"]) == (
        86.0,
        90.0,
        world.users["clinician_a"],
    )
    history = fresh_client.get(
        url(world, "thresholds/history"), params={"kind": "spo2"}, headers=clinician
    ).json()
    assert [(v["red_low"], v["changed_by"]) for v in history] == [
        (86.0, world.users["clinician_a"]),
        (85.0, None),
    ]
    unordered = {"red_low": 95.0, "yellow_low": 90.0}
    rejected = fresh_client.put(url(world, "thresholds/spo2"), json=unordered, headers=clinician)
    assert rejected.status_code == 422
    assert "rise strictly" in rejected.json()["detail"]
    nurse = bearer(mint(world, "nurse_a"))
    assert (
        fresh_client.put(url(world, "thresholds/spo2"), json=body, headers=nurse).status_code == 403
    )
    assert sql(
        "SELECT user_id, action, outcome FROM audit_log WHERE resource = %s ORDER BY id",
        ("patients/{patient_id}/thresholds/{kind}",),
    ) == [
        (world.users["clinician_a"], "update", "success"),
        (world.users["nurse_a"], "update", "denied"),
    ]


def test_enrolment_copies_the_program_and_schedules_can_change(fresh_client, fresh_world_db):
    world = fresh_world_db.world
    clinician = bearer(mint(world, "clinician_a"))
    plan = fresh_client.put(url(world, "plan"), json={"program": "copd"}, headers=clinician)
    assert plan.status_code == 200
    assert plan.json()["program"] == "copd"
    assert [s["kind"] for s in plan.json()["schedules"]] == ["spo2"]
    spo2 = next(
        t
        for t in fresh_client.get(url(world, "thresholds"), headers=clinician).json()
        if t["kind"] == "spo2"
    )
    assert (spo2["red_low"], spo2["program"]) == (88.0, "copd")
    schedule = {"times": ["07:30:00"], "weekdays": [1, 3, 5], "grace_minutes": 90}
    changed = fresh_client.put(url(world, "schedules/systolic"), json=schedule, headers=clinician)
    assert changed.status_code == 200
    systolic = next(s for s in changed.json()["schedules"] if s["kind"] == "systolic")
    assert (systolic["times"], systolic["weekdays"], systolic["grace_minutes"]) == (
        ["07:30:00"],
        [1, 3, 5],
        90,
    )
    bad_zone = {"program": "copd", "timezone": "Mars/Olympus"}
    assert fresh_client.put(url(world, "plan"), json=bad_zone, headers=clinician).status_code == 422


def test_nurses_record_passive_periods(fresh_client, fresh_world_db):
    world = fresh_world_db.world
    nurse = bearer(mint(world, "nurse_a"))
    body = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-08T00:00:00Z", "reason": "admitted"}
    created = fresh_client.post(url(world, "passive-periods"), json=body, headers=nurse)
    assert created.status_code == 201
    [period] = created.json()["passive_periods"]
    assert (period["reason"], period["created_by"]) == ("admitted", world.users["nurse_a"])
    backwards = {**body, "end": "2026-11-01T00:00:00Z"}
    assert (
        fresh_client.post(url(world, "passive-periods"), json=backwards, headers=nurse).status_code
        == 422
    )


def test_oximetry_nights(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    sql(
        """INSERT INTO oximetry_nights (patient_id, night, starts_at, ends_at, recording_seconds,
        valid_seconds, samples, flagged_share, spo2_mean, spo2_min, t90_seconds, t88_seconds,
        odi3, odi4) VALUES (%s, '2026-11-27', '2026-11-27T22:00Z', '2026-11-28T06:00Z', 28800,
        28000, 28800, 0.02, 93.5, 84, 1200, 300, 6.5, 3.1)""",
        (world.patients["a"],),
    )
    nights = fresh_client.get(url(world, "oximetry-nights"), headers=bearer(mint(world, "nurse_a")))
    assert [(n["night"], n["odi3"], n["t90_seconds"]) for n in nights.json()] == [
        ("2026-11-27", 6.5, 1200.0)
    ]


def test_acknowledge_and_resolve_through_the_alert_store(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    nurse = bearer(mint(world, "nurse_a"))
    alert = world.alerts["a"]
    done = fresh_client.post(
        f"/alerts/{alert}/acknowledge", json={"note": "called her"}, headers=nurse
    )
    assert done.status_code == 200
    assert (
        done.json()["status"],
        done.json()["acknowledgement_note"],
        done.json()["acknowledged_by"],
    ) == (
        "acknowledged",
        "called her",
        world.users["nurse_a"],
    )
    again = fresh_client.post(f"/alerts/{alert}/acknowledge", json={}, headers=nurse)
    assert again.status_code == 409
    resolved = fresh_client.post(f"/alerts/{alert}/resolve", headers=nurse)
    assert resolved.json()["status"] == "resolved"
    history = fresh_client.get(f"/alerts/{alert}/history", headers=nurse).json()
    assert [e["event"] for e in history] == ["acknowledged", "resolved"]
    foreign = fresh_client.post(f"/alerts/{world.alerts['b']}/acknowledge", json={}, headers=nurse)
    assert foreign.status_code == 404
    fleet = bearer(mint(world, "fleet_m1"))
    tech = world.alerts["tech_m1"]
    assert (
        fresh_client.post(f"/fleet/alerts/{tech}/acknowledge", json={}, headers=fleet).status_code
        == 200
    )
    assert (
        fresh_client.post(
            f"/fleet/alerts/{world.alerts['tech_m2']}/resolve", headers=fleet
        ).status_code
        == 404
    )
    audited = sql(
        "SELECT action, outcome FROM audit_log WHERE user_id = %s AND action <> 'read' ORDER BY id",
        (world.users["nurse_a"],),
    )
    assert audited == [
        ("acknowledge", "success"),
        ("acknowledge", "error"),
        ("resolve", "success"),
        ("acknowledge", "denied"),
    ]
