"""Acknowledge all green: reviews of green patients' new measurements (OpenTele's
"Kvittér for alle grønne"), for care roles on their own patients only, race-safe
against ingest raising an alert at the same moment."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest

from api.queries.reviews import MAX_UNREVIEWED
from devices.reading import utc_now
from ingest.alert_store import lock_key
from tests.api.conftest import bearer, mint
from tests.api.world import T0

GREEN = "/patients/reviews/green"
# Patient A's spot measurements in the world: 12 instants of the cuff (systolic, diastolic
# and pulse count once per instant) and 12 of the oximeter.
A_MEASUREMENTS = 24
B_MEASUREMENTS = 12
LOCK_WAIT_S = 30.0


def resolve(sql, alert_id: int) -> None:
    sql("UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE id = %s", (alert_id,))


def unreviewed(client, world, user: str) -> dict[int, int]:
    found = client.get("/patients", headers=bearer(mint(world, user))).json()
    return {entry["patient_id"]: entry["unreviewed"] for entry in found}


def add_reading(sql, world, *, received_at) -> None:
    sql(
        """INSERT INTO readings (measured_at, device_id, kind, value, unit, patient_id,
        gateway_id, received_at, batch_id) VALUES (%s, 'bp-a', 'systolic', 131, 'mm[Hg]', %s,
        'gw-m1', %s, '00000000-0000-4000-8000-000000000003')""",
        (received_at - timedelta(minutes=1), world.patients["a"], received_at),
    )


def test_a_nurse_acknowledges_the_green_patients_of_her_team_only(
    fresh_client, fresh_world_db, sql
):
    world = fresh_world_db.world
    a, b = world.patients["a"], world.patients["b"]
    resolve(sql, world.alerts["a"])
    resolve(sql, world.alerts["b"])
    assert unreviewed(fresh_client, world, "nurse_a") == {a: A_MEASUREMENTS}

    response = fresh_client.post(GREEN, headers=bearer(mint(world, "nurse_a")))

    assert response.status_code == 200, response.text
    [review] = response.json()
    assert review["patient_id"] == a
    assert review["reviewed_by"] == world.users["nurse_a"]
    assert review["measurements"] == A_MEASUREMENTS
    assert review["reviewed_up_to"] == T0.isoformat().replace("+00:00", "Z")
    assert unreviewed(fresh_client, world, "nurse_a") == {a: 0}
    assert unreviewed(fresh_client, world, "clinician_a") == {a: 0}
    # Patient B is green too, but of another care team: untouched.
    assert unreviewed(fresh_client, world, "clinician_b") == {b: B_MEASUREMENTS}
    assert sql("SELECT patient_id, reviewed_by FROM patient_reviews") == [
        (a, world.users["nurse_a"])
    ]
    assert sql(
        "SELECT patient_id, action, outcome FROM audit_log WHERE resource = %s", (GREEN[1:],)
    ) == [(a, "acknowledge", "success")]
    # Nothing new since: nothing to review, nothing recorded.
    assert fresh_client.post(GREEN, headers=bearer(mint(world, "clinician_a"))).json() == []
    assert sql("SELECT count(*) FROM patient_reviews") == [(1,)]
    # Team B's clinician reviews team B's green patient, and only that one.
    [own] = fresh_client.post(GREEN, headers=bearer(mint(world, "clinician_b"))).json()
    assert (own["patient_id"], own["reviewed_by"]) == (b, world.users["clinician_b"])
    assert unreviewed(fresh_client, world, "clinician_b") == {b: 0}
    assert sql("SELECT patient_id FROM patient_reviews ORDER BY id") == [(a,), (b,)]


def test_a_review_covers_what_arrived_up_to_the_moment_the_list_was_drawn(
    fresh_client, fresh_world_db, sql
):
    world = fresh_world_db.world
    a = world.patients["a"]
    resolve(sql, world.alerts["a"])
    nurse = bearer(mint(world, "nurse_a"))
    assert len(fresh_client.post(GREEN, headers=nurse).json()) == 1
    drawn = utc_now()
    arrived = drawn + timedelta(seconds=5)
    add_reading(sql, world, received_at=arrived)
    assert unreviewed(fresh_client, world, "nurse_a") == {a: 1}

    before = fresh_client.post(GREEN, json={"up_to": drawn.isoformat()}, headers=nurse)
    assert before.json() == []
    assert unreviewed(fresh_client, world, "nurse_a") == {a: 1}

    [review] = fresh_client.post(GREEN, json={}, headers=nurse).json()
    assert review["measurements"] == 1
    assert unreviewed(fresh_client, world, "nurse_a") == {a: 0}
    assert sql("SELECT count(*) FROM patient_reviews WHERE patient_id = %s", (a,)) == [(2,)]


def test_patients_with_an_open_alert_are_left_alone(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    for user in ("nurse_a", "clinician_b", "clinician_c"):  # red A, yellow B, blue C
        response = fresh_client.post(GREEN, headers=bearer(mint(world, user)))
        assert response.status_code == 200
        assert response.json() == []
    assert unreviewed(fresh_client, world, "nurse_a") == {world.patients["a"]: A_MEASUREMENTS}
    assert sql("SELECT count(*) FROM patient_reviews") == [(0,)]


def test_one_care_team_at_a_time(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    resolve(sql, world.alerts["a"])
    resolve(sql, world.alerts["b"])
    nurse = bearer(mint(world, "nurse_a"))
    # Another team's id reviews nothing (and says nothing about that team's patients).
    other = fresh_client.post(GREEN, json={"care_team_id": world.teams["b"]}, headers=nurse)
    assert other.json() == []
    own = fresh_client.post(GREEN, json={"care_team_id": world.teams["a"]}, headers=nurse)
    assert [r["patient_id"] for r in own.json()] == [world.patients["a"]]
    assert unreviewed(fresh_client, world, "clinician_b") == {world.patients["b"]: B_MEASUREMENTS}


@pytest.mark.parametrize("user", ["fleet_m1", "auditor_m1", "admin_m1", "patient_a"])
def test_roles_that_may_not_acknowledge_are_refused(fresh_client, fresh_world_db, sql, user):
    world = fresh_world_db.world
    resolve(sql, world.alerts["a"])
    response = fresh_client.post(GREEN, headers=bearer(mint(world, user)))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert sql("SELECT count(*) FROM patient_reviews") == [(0,)]


def test_unauthenticated_and_malformed_requests_change_nothing(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    resolve(sql, world.alerts["a"])
    assert fresh_client.post(GREEN).status_code == 401
    nurse = bearer(mint(world, "nurse_a"))
    naive = fresh_client.post(GREEN, json={"up_to": "2026-11-28T06:00:00"}, headers=nurse)
    assert naive.status_code == 422
    extra = fresh_client.post(GREEN, json={"patient_ids": [1]}, headers=nurse)
    assert extra.status_code == 422
    assert sql("SELECT count(*) FROM patient_reviews") == [(0,)]


def test_an_alert_raised_while_the_review_waits_keeps_the_patient_out(
    fresh_client, fresh_world_db, sql
):
    """Ingest holds the patient's lock while it stores and judges readings; a review
    that starts meanwhile decides after that transaction, and sees its alert."""
    world = fresh_world_db.world
    a = world.patients["a"]
    resolve(sql, world.alerts["a"])
    answers = []
    with psycopg.connect(fresh_world_db.url) as ingest:
        ingest.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("patient", a),))
        nurse = bearer(mint(world, "nurse_a"))
        review = threading.Thread(
            target=lambda: answers.append(fresh_client.post(GREEN, headers=nurse))
        )
        review.start()
        deadline = time.monotonic() + LOCK_WAIT_S
        while sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == [
            (0,)
        ]:
            assert time.monotonic() < deadline, "the review never waited for the lock"
            time.sleep(0.05)
        ingest.execute(
            """INSERT INTO alerts (organization_id, audience, condition, patient_id, kind,
            severity, first_at, last_at, worst_value)
            VALUES (%s, 'clinical', 'systolic_high', %s, 'systolic', 'red', %s, %s, 190)""",
            (world.organizations["m1"], a, T0, T0),
        )
        ingest.commit()
    review.join(LOCK_WAIT_S)
    assert not review.is_alive()
    assert answers[0].status_code == 200
    assert answers[0].json() == []
    assert unreviewed(fresh_client, world, "nurse_a") == {a: A_MEASUREMENTS}


def test_the_unreviewed_count_stops_at_its_cap(fresh_client, fresh_world_db, sql):
    world = fresh_world_db.world
    a = world.patients["a"]
    sql(
        """INSERT INTO readings (measured_at, device_id, kind, value, unit, patient_id,
        gateway_id, received_at, batch_id)
        SELECT %(t)s - make_interval(mins => n), 'bp-a', 'systolic', 131, 'mm[Hg]', %(p)s,
               'gw-m1', %(t)s, '00000000-0000-4000-8000-000000000004'
        FROM generate_series(1, %(n)s) AS n""",
        {"t": utc_now(), "p": a, "n": MAX_UNREVIEWED + 50},
    )
    assert unreviewed(fresh_client, world, "nurse_a")[a] == MAX_UNREVIEWED
