"""Organization admins: users and care teams; auditors and patients: audit trails."""

from __future__ import annotations

import psycopg
import pytest

from tests.api.conftest import bearer, mint
from tests.api.test_auth import login


def test_admins_manage_their_organizations_users(fresh_client, fresh_world_db):
    world = fresh_world_db.world
    admin = bearer(mint(world, "admin_m1"))
    names = [u["username"] for u in fresh_client.get("/users", headers=admin).json()]
    assert "nurse_a" in names
    assert "clinician_a" not in names  # the region's
    body = {
        "username": "nurse_new",
        "display_name": "New Nurse",
        "role": "nurse",
        "password": "a long enough password",
    }
    created = fresh_client.post("/users", json=body, headers=admin)
    assert created.status_code == 201
    user = created.json()["id"]
    assert "password" not in created.json()
    assert login(fresh_client, "nurse_new", "a long enough password").status_code == 200
    again = fresh_client.post("/users", json=body, headers=admin)
    assert again.status_code == 409
    new_password = {"password": "another long password"}
    assert (
        fresh_client.put(f"/users/{user}/password", json=new_password, headers=admin).status_code
        == 204
    )
    assert login(fresh_client, "nurse_new", "another long password").status_code == 200
    disabled = fresh_client.post(f"/users/{user}/disable", headers=admin)
    assert disabled.json()["disabled_at"] is not None
    assert login(fresh_client, "nurse_new", "another long password").status_code == 401
    foreign = fresh_client.post(f"/users/{world.users['nurse_c']}/disable", headers=admin)
    assert foreign.status_code == 404
    assert fresh_client.get("/users", headers=bearer(mint(world, "nurse_a"))).status_code == 403


def test_care_teams_grant_access_across_organizations(fresh_client, fresh_world_db):
    world = fresh_world_db.world
    admin = bearer(mint(world, "admin_m2"))
    nurse = bearer(mint(world, "nurse_a"))  # of Aarhus (m1)
    patient_c = world.patients["c"]
    assert fresh_client.get(f"/patients/{patient_c}", headers=nurse).status_code == 404
    team = fresh_client.post("/care-teams", json={"name": "Shared"}, headers=admin).json()
    fresh_client.put(f"/care-teams/{team['id']}/patients/{patient_c}", headers=admin)
    joined = fresh_client.put(
        f"/care-teams/{team['id']}/members/{world.users['nurse_a']}", headers=admin
    )
    assert joined.json()["member_ids"] == [world.users["nurse_a"]]
    assert fresh_client.get(f"/patients/{patient_c}", headers=nurse).status_code == 200
    fresh_client.delete(f"/care-teams/{team['id']}/members/{world.users['nurse_a']}", headers=admin)
    assert fresh_client.get(f"/patients/{patient_c}", headers=nurse).status_code == 404
    # Admins manage their own teams, with their own patients only.
    own_team = world.teams["a"]
    assert (
        fresh_client.put(f"/care-teams/{own_team}/patients/{patient_c}", headers=admin).status_code
        == 404
    )
    m1_admin = bearer(mint(world, "admin_m1"))
    assert (
        fresh_client.put(
            f"/care-teams/{team['id']}/patients/{world.patients['a']}", headers=m1_admin
        ).status_code
        == 404
    )


def test_who_looked_at_me(fresh_client, fresh_world_db):
    world = fresh_world_db.world
    fresh_client.get(f"/patients/{world.patients['a']}", headers=bearer(mint(world, "clinician_a")))
    fresh_client.get(f"/identities/{world.patients['a']}", headers=bearer(mint(world, "fleet_m1")))
    trail = fresh_client.get("/me/audit", headers=bearer(mint(world, "patient_a"))).json()
    assert [
        (e["user_display_name"], e["role"], e["organization_name"], e["outcome"]) for e in trail
    ] == [
        ("Fleet M1", "fleet_manager", "Aarhus Kommune", "success"),
        ("Clinician A", "clinician", "Region Midtjylland", "success"),
    ]
    assert fresh_client.get("/me/audit", headers=bearer(mint(world, "nurse_a"))).status_code == 403


def test_auditors_query_their_organizations_patients_and_users(fresh_client, fresh_world_db):
    world = fresh_world_db.world
    fresh_client.get(f"/patients/{world.patients['a']}", headers=bearer(mint(world, "nurse_a")))
    auditor = bearer(mint(world, "auditor_m1"))
    by_patient = fresh_client.get(f"/audit/patients/{world.patients['a']}", headers=auditor).json()
    assert [(e["user_id"], e["action"], e["resource"]) for e in by_patient] == [
        (world.users["nurse_a"], "read", "patients/{patient_id}")
    ]
    by_user = fresh_client.get(f"/audit/users/{world.users['nurse_a']}", headers=auditor).json()
    assert [e["patient_id"] for e in by_user] == [world.patients["a"]]
    foreign_patient = fresh_client.get(f"/audit/patients/{world.patients['c']}", headers=auditor)
    assert foreign_patient.status_code == 404
    foreign_user = fresh_client.get(f"/audit/users/{world.users['nurse_c']}", headers=auditor)
    assert foreign_user.status_code == 404
    nurse = bearer(mint(world, "nurse_a"))
    assert (
        fresh_client.get(f"/audit/patients/{world.patients['a']}", headers=nurse).status_code == 403
    )


def test_the_application_cannot_change_or_delete_audit_records(fresh_world_db):
    with psycopg.connect(fresh_world_db.url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_log (action, resource, outcome) VALUES ('read', 'x', 'success')"
        )
        for statement in (
            "UPDATE audit_log SET outcome = 'denied'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)
