"""What the schema itself guarantees, whoever writes to it."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.types.range import Range

from tests.ingest.seed import add_device, add_organization, add_patient

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 3, 1, tzinfo=UTC)
T2 = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def org(db):
    return add_organization(db)


@pytest.mark.parametrize(
    "period",
    [
        pytest.param(Range(None, T1, "[)"), id="no-start"),
        pytest.param(Range(T0, T1, "[]"), id="closed-end"),
        pytest.param(Range(T0, T1, "()"), id="open-start"),
        pytest.param(Range(T1, T1, "[)"), id="empty"),
    ],
)
def test_assignment_periods_are_half_open_with_a_start(db, org, period):
    patient = add_patient(db, org)
    add_device(db, org, "cuff-1")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO device_assignments (device_id, patient_id, period) VALUES (%s, %s, %s)",
            ("cuff-1", patient, period),
        )


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE audit_log SET outcome = 'denied'", id="update"),
        pytest.param("DELETE FROM audit_log", id="delete"),
        pytest.param("TRUNCATE audit_log", id="truncate"),
    ],
)
def test_the_audit_log_is_append_only(db, org, statement):
    db.execute(
        """INSERT INTO audit_log (organization_id, patient_id, action, resource, outcome)
           VALUES (%s, 42, 'read', 'readings', 'success')""",
        (org,),
    )
    db.commit()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit_log is append-only"):
        db.execute(statement)
    db.rollback()
    assert db.execute("SELECT count(*), min(outcome) FROM audit_log").fetchone() == (1, "success")


def test_every_threshold_version_is_kept_with_who_and_when(db, org):
    patient = add_patient(db, org)
    (clinician,) = db.execute(
        """INSERT INTO users (organization_id, username, display_name, role)
           VALUES (%s, 'dr', 'Dr. Jensen', 'clinician') RETURNING id""",
        (org,),
    ).fetchone()
    db.execute(
        """INSERT INTO thresholds (patient_id, kind, red_low, yellow_low, program, updated_at)
           VALUES (%s, 'spo2', 88, 92, 'copd', %s)""",
        (patient, T0),
    )
    db.execute(
        """UPDATE thresholds SET red_low = 85, yellow_low = 90, program = NULL, updated_by = %s,
           updated_at = %s WHERE patient_id = %s AND kind = 'spo2'""",
        (clinician, T1, patient),
    )
    history = db.execute(
        """SELECT red_low, yellow_low, program, changed_by, valid_from FROM threshold_history
           WHERE patient_id = %s ORDER BY valid_from""",
        (patient,),
    ).fetchall()
    assert history == [(88.0, 92.0, "copd", None, T0), (85.0, 90.0, None, clinician, T1)]


def test_an_update_that_does_not_say_when_is_dated_now(db, org):
    patient = add_patient(db, org)
    db.execute(
        """INSERT INTO thresholds (patient_id, kind, red_high, updated_at)
           VALUES (%s, 'pulse_rate', 130, %s)""",
        (patient, T0),
    )
    db.execute("UPDATE thresholds SET red_high = 120 WHERE patient_id = %s", (patient,))
    (now,) = db.execute("SELECT now()").fetchone()
    assert db.execute(
        "SELECT red_high, valid_from FROM threshold_history ORDER BY id"
    ).fetchall() == [(130.0, T0), (120.0, now)]


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param((92, 88, None, None), id="red-low-above-yellow-low"),
        pytest.param((None, 90, 90, None), id="yellow-equal"),
        pytest.param((None, None, 140, 130), id="red-high-below-yellow-high"),
        pytest.param((100, None, None, 90), id="red-low-above-red-high"),
    ],
)
def test_threshold_limits_must_be_strictly_ordered(db, org, limits):
    patient = add_patient(db, org)
    with pytest.raises(psycopg.errors.CheckViolation, match="thresholds_ordered"):
        db.execute(
            """INSERT INTO thresholds (patient_id, kind, red_low, yellow_low, yellow_high, red_high)
               VALUES (%s, 'systolic', %s, %s, %s, %s)""",
            (patient, *limits),
        )


def test_absent_limits_order_nothing(db, org):
    patient = add_patient(db, org)
    db.execute(
        """INSERT INTO thresholds (patient_id, kind, red_low, red_high)
           VALUES (%s, 'systolic', 90, 180)""",
        (patient,),
    )


def test_one_open_alert_per_patient_and_condition(db, org):
    patient = add_patient(db, org)
    insert = """INSERT INTO alerts (organization_id, audience, condition, patient_id, kind,
                    severity, status, first_at, last_at, resolved_at)
                VALUES (%s, 'clinical', 'spo2_low', %s, 'spo2', 'red', %s, %s, %s, %s)"""
    db.execute(insert, (org, patient, "resolved", T0, T0, T0))
    db.execute(insert, (org, patient, "open", T1, T1, None))  # a resolved one does not count
    with pytest.raises(psycopg.errors.UniqueViolation, match="alerts_one_open"):
        db.execute(insert, (org, patient, "open", T2, T2, None))


def test_a_clinical_alert_needs_a_patient(db, org):
    with pytest.raises(psycopg.errors.CheckViolation, match="alerts_clinical_has_patient"):
        db.execute(
            """INSERT INTO alerts
                   (organization_id, audience, condition, severity, first_at, last_at)
               VALUES (%s, 'clinical', 'spo2_low', 'red', %s, %s)""",
            (org, T0, T0),
        )


def test_a_patient_account_is_tied_to_its_patient(db, org):
    patient = add_patient(db, org)
    db.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="users_patient_role"):
        db.execute(
            """INSERT INTO users (organization_id, username, display_name, role)
               VALUES (%s, 'citizen', 'Citizen', 'patient')""",
            (org,),
        )
    db.rollback()
    db.execute(
        """INSERT INTO users (organization_id, username, display_name, role, patient_id)
           VALUES (%s, 'citizen', 'Citizen', 'patient', %s)""",
        (org, patient),
    )
