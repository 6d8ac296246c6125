"""Alerts: clinical for care teams, technical for the fleet, status for the patient."""

from __future__ import annotations

from tests.api.conftest import bearer, mint


def test_care_roles_see_their_patients_clinical_alerts(client, headers, world):
    found = client.get("/alerts", headers=headers("nurse_a")).json()
    assert [a["id"] for a in found] == [world.alerts["a"]]
    alert = found[0]
    assert alert["patient_id"] == world.patients["a"]
    assert alert["severity"] == "red"
    assert alert["status"] == "open"
    assert alert["worst_value"] == 80.0
    assert (
        client.get("/alerts", headers=headers("clinician_c")).json()[0]["id"] == world.alerts["c"]
    )


def test_alert_filters(client, headers, world):
    nurse = headers("nurse_a")
    assert client.get("/alerts", params={"severity": "yellow"}, headers=nurse).json() == []
    assert len(client.get("/alerts", params={"kind": "spo2"}, headers=nurse).json()) == 1
    assert client.get("/alerts", params={"status": "resolved"}, headers=nurse).json() == []
    assert (
        client.get("/alerts", params={"patient_id": world.patients["b"]}, headers=nurse).json()
        == []
    )
    assert client.get("/alerts", params={"severity": "purple"}, headers=nurse).status_code == 422


def test_alert_detail_and_history(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    alert = world.alerts["a"]
    sql(
        """INSERT INTO alert_events (alert_id, event, at, organization_id, audience, patient_id,
        condition, severity) SELECT id, 'raised', first_at, organization_id, audience, patient_id,
        condition, severity FROM alerts WHERE id = %s""",
        (alert,),
    )
    nurse = bearer(mint(world, "nurse_a"))
    assert fresh_client.get(f"/alerts/{alert}", headers=nurse).json()["id"] == alert
    history = fresh_client.get(f"/alerts/{alert}/history", headers=nurse).json()
    assert [(e["event"], e["severity"]) for e in history] == [("raised", "red")]
    foreign = fresh_client.get(f"/alerts/{world.alerts['b']}", headers=nurse)
    assert foreign.status_code == 404
    assert fresh_client.get(f"/alerts/{world.alerts['tech_m1']}", headers=nurse).status_code == 404
    assert sql(
        "SELECT patient_id, resource, outcome FROM audit_log WHERE user_id = %s ORDER BY id",
        (world.users["nurse_a"],),
    ) == [
        (world.patients["a"], "alerts/{alert_id}", "success"),
        (world.patients["a"], "alerts/{alert_id}/history", "success"),
        (world.patients["b"], "alerts/{alert_id}", "denied"),
        (None, "alerts/{alert_id}", "denied"),
    ]


def test_fleet_sees_technical_alerts_of_its_organization_only(client, headers, world):
    found = client.get("/fleet/alerts", headers=headers("fleet_m1")).json()
    assert [a["id"] for a in found] == [world.alerts["tech_m1"]]
    assert "worst_value" not in found[0]
    assert "thresholds" not in found[0]
    assert "kind" not in found[0]
    foreign = client.get(f"/fleet/alerts/{world.alerts['tech_m2']}", headers=headers("fleet_m1"))
    assert foreign.status_code == 404
    clinical = client.get(f"/fleet/alerts/{world.alerts['a']}", headers=headers("fleet_m1"))
    assert clinical.status_code == 404
    assert client.get("/alerts", headers=headers("fleet_m1")).status_code == 403
    assert client.get("/fleet/alerts", headers=headers("nurse_a")).status_code == 403


def test_a_patient_sees_the_status_of_their_own_alerts(client, headers, world):
    found = client.get("/me/alerts", headers=headers("patient_a")).json()
    assert [set(a) for a in found] == [
        {"id", "kind", "severity", "status", "first_at", "acknowledged_at", "resolved_at"}
    ]
    assert found[0]["id"] == world.alerts["a"]
    assert client.get("/alerts", headers=headers("patient_a")).status_code == 403
    assert client.get("/me/alerts", headers=headers("nurse_a")).status_code == 403


def test_unauthenticated_looks_at_an_alert_are_audited_with_its_patient(
    fresh_client, fresh_world_db, sql
):
    world = fresh_world_db.world
    assert fresh_client.get(f"/alerts/{world.alerts['a']}").status_code == 401
    assert sql("SELECT user_id, patient_id, outcome FROM audit_log") == [
        (None, world.patients["a"], "denied")
    ]
