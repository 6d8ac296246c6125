"""Triage list, patient detail, delivery identities and registration."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import bearer, mint
from tests.api.world import PATIENTS, T0


def test_triage_lists_the_care_teams_patients_worst_first(client, headers, world):
    # clinician_a (region) is on team A only; nurse_c is on team C.
    response = client.get("/patients", headers=headers("clinician_a"))
    assert response.status_code == 200
    [entry] = response.json()
    assert entry["patient_id"] == world.patients["a"]
    assert entry["name"] == "Anna Andersen"
    assert entry["worst_severity"] == "red"
    assert entry["open_alerts"] == 1
    # Never reviewed: every spot measurement, one per device and instant (cuff, oximeter).
    assert entry["unreviewed"] == 24
    assert entry["oldest_unacknowledged_at"] == (T0 - timedelta(hours=2)).isoformat().replace(
        "+00:00", "Z"
    )
    latest = {reading["kind"]: reading for reading in entry["latest"]}
    assert sorted(latest) == ["diastolic", "pulse_rate", "spo2", "systolic"]
    assert latest["systolic"] == {
        "kind": "systolic",
        "value": 151.0,
        "unit": "mm[Hg]",
        "absent_reason": None,
        "measured_at": T0.isoformat().replace("+00:00", "Z"),
    }


def test_triage_order_follows_severity_then_age(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    # Put clinician_b on every team: patients a (red), b (yellow), c (blue).
    for team in ("a", "c"):
        sql(
            "INSERT INTO care_team_members (care_team_id, user_id) VALUES (%s, %s)",
            (world.teams[team], world.users["clinician_b"]),
        )
    order = fresh_client.get("/patients", headers=bearer(mint(world, "clinician_b"))).json()
    assert [(e["patient_id"], e["worst_severity"]) for e in order] == [
        (world.patients["a"], "red"),
        (world.patients["b"], "yellow"),
        (world.patients["c"], "blue"),
    ]
    # Acknowledging takes a patient out of the unacknowledged ranks.
    sql(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = %s "
        "WHERE id = %s",
        (world.users["clinician_b"], world.alerts["a"]),
    )
    order = fresh_client.get("/patients", headers=bearer(mint(world, "clinician_b"))).json()
    assert [e["patient_id"] for e in order] == [
        world.patients["b"],
        world.patients["c"],
        world.patients["a"],
    ]
    assert order[2]["worst_severity"] is None
    page = fresh_client.get(
        "/patients", params={"limit": 1, "offset": 1}, headers=bearer(mint(world, "clinician_b"))
    ).json()
    assert [e["patient_id"] for e in page] == [world.patients["c"]]


def test_patient_detail(client, headers, world):
    response = client.get(f"/patients/{world.patients['a']}", headers=headers("nurse_a"))
    assert response.status_code == 200
    body = response.json()
    name, address, postal, city, phone = PATIENTS[0][3]
    assert body["identity"] == {
        "patient_id": world.patients["a"],
        "organization_id": world.organizations["m1"],
        "national_id": f"0101{world.patients['a']:06d}",
        "name": name,
        "address": address,
        "postal_code": postal,
        "city": city,
        "phone": phone,
    }
    assert body["care_teams"] == [
        {
            "id": world.teams["a"],
            "name": "Lungeteam A",
            "organization_id": world.organizations["m1"],
        }
    ]
    assert [d["device_id"] for d in body["devices"]] == ["bp-a", "ox-a"]
    assert [a["id"] for a in body["open_alerts"]] == [world.alerts["a"]]
    assert len(body["latest"]) == 4


def test_foreign_patients_are_404_and_roles_without_care_access_403(client, headers, world):
    other_team = client.get(f"/patients/{world.patients['b']}", headers=headers("nurse_a"))
    assert other_team.status_code == 404
    missing = client.get("/patients/999999", headers=headers("nurse_a"))
    assert missing.status_code == 404
    assert missing.json() == other_team.json()
    assert (
        client.get(f"/patients/{world.patients['a']}", headers=headers("fleet_m1")).status_code
        == 403
    )
    assert client.get("/patients", headers=headers("fleet_m1")).status_code == 403
    assert client.get("/patients", headers=headers("patient_a")).status_code == 403


def test_identities_for_fleet_are_their_organizations_patients(client, headers, world):
    listed = client.get("/identities", headers=headers("fleet_m1")).json()
    assert [i["patient_id"] for i in listed] == [world.patients["a"], world.patients["b"]]
    assert set(listed[0]) == {
        "patient_id",
        "organization_id",
        "national_id",
        "name",
        "address",
        "postal_code",
        "city",
        "phone",
    }
    foreign = client.get(f"/identities/{world.patients['c']}", headers=headers("fleet_m1"))
    assert foreign.status_code == 404
    own = client.get(f"/identities/{world.patients['a']}", headers=headers("patient_a"))
    assert own.json()["name"] == "Anna Andersen"
    assert client.get("/identities", headers=headers("auditor_m1")).status_code == 403


def test_admins_register_patients_on_their_own_teams(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    admin = bearer(mint(world, "admin_m1"))
    body = {"name": "Dora Dahl", "city": "Aarhus", "care_team_ids": [world.teams["a"]]}
    created = fresh_client.post("/patients", json=body, headers=admin)
    assert created.status_code == 201
    patient = created.json()["patient_id"]
    assert created.json()["organization_id"] == world.organizations["m1"]
    # The team's nurse sees the new patient at once.
    nurse = bearer(mint(world, "nurse_a"))
    assert fresh_client.get(f"/patients/{patient}", headers=nurse).status_code == 200
    foreign_team = {**body, "care_team_ids": [world.teams["c"]]}
    assert fresh_client.post("/patients", json=foreign_team, headers=admin).status_code == 404
    assert fresh_client.post("/patients", json=body, headers=nurse).status_code == 403
    assert sql(
        "SELECT patient_id, action, outcome FROM audit_log WHERE user_id = %s",
        (world.users["admin_m1"],),
    ) == [(patient, "create", "success")]
