"""The access matrix (OWASP API1/API3/API5; reliability_security.md 7, T11 and T13).

Every endpoint is called by every seeded user (each role, of the owning organization,
of another organization, of another care team) and with four broken credentials (no
token, expired, wrong signature, ``alg: none``). The expected answers come from the
policy written out below in terms of the world (tests/api/world.py), not from the
api's own tables, so a change to the rules has to change this file too:

- users in ``ok`` get a success (or, for changes, a state conflict), ``forbidden``
  users 403, everyone else 404: a foreign object looks exactly like a missing one;
- list endpoints never contain a row outside the caller's scope;
- fleet roles never receive a clinical field;
- audit completeness: every answer about a named patient leaves exactly one audit
  record for that patient (success, denied or error), every list one record per
  patient listed, and nothing else is recorded.

The live stream (``/alerts/stream``) runs forever, so tests/api/test_live.py checks it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
import psycopg
import pytest

from devices.reading import utc_now
from tests.api.conftest import SECRET, bearer, mint
from tests.api.world import World

CARE = frozenset({"clinician_a", "nurse_a", "clinician_b", "nurse_c", "clinician_c"})
FLEET = frozenset({"fleet_m1", "fleet_m2"})
ADMINS = frozenset({"admin_m1", "admin_m2"})
AUDITORS = frozenset({"auditor_m1", "auditor_m2"})
PATIENTS = frozenset({"patient_a"})
EVERYONE = CARE | FLEET | ADMINS | AUDITORS | PATIENTS
# Who is on patient A's care team (team A: a region clinician and a municipal nurse).
TEAM_A = frozenset({"clinician_a", "nurse_a"})
# Fields that are clinical data: a fleet manager must never receive any of them.
CLINICAL_FIELDS = frozenset(
    {
        "value", "worst_value", "thresholds", "latest", "red_low", "yellow_low", "yellow_high",
        "red_high", "min", "avg", "max", "absent_reason", "flags", "spo2_mean", "odi3", "odi4",
        "open_alerts", "care_teams",
    }
)  # fmt: skip
SUCCESS = frozenset({200, 201, 204})
# A change the caller may make but the object's state refuses is still not a refusal.
CHANGE = SUCCESS | {409}


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    name: str
    method: str
    path: Callable[[World], str]
    ok: frozenset[str]
    forbidden: frozenset[str]
    # "patient": the path names patient A (directly or through its alert): one record
    # per answer. "list": one record per patient listed. "none": no patient data.
    audit: str
    body: Callable[[World], dict[str, Any]] | None = None
    params: dict[str, str] = field(default_factory=dict)
    accepted: frozenset[int] = SUCCESS
    # For lists: the ids the caller may see, and how to read them from the answer.
    scope: Callable[[World, str], set[Any]] | None = None
    ids: Callable[[Any], set[Any]] | None = None


def patient_a(world: World) -> str:
    return f"/patients/{world.patients['a']}"


def care_visible(world: World, user: str) -> set[int]:
    teams = {
        "clinician_a": "a",
        "nurse_a": "a",
        "clinician_b": "b",
        "nurse_c": "c",
        "clinician_c": "c",
    }
    team = teams.get(user)
    return {world.patients[team]} if team else set()


def identity_visible(world: World, user: str) -> set[int]:
    if user in CARE:
        return care_visible(world, user)
    if user == "patient_a":
        return {world.patients["a"]}
    if user.endswith("_m1"):
        return {world.patients["a"], world.patients["b"]}
    if user.endswith("_m2"):
        return {world.patients["c"]}
    return set()


def organization_of(world: World, user: str) -> set[int]:
    return {world.accounts[user][1]}


def gateways_of(world: World, user: str) -> set[str]:
    return {"gw-m1"} if user.endswith("_m1") else {"gw-m2"}


def devices_of(world: World, user: str) -> set[str]:
    if user.endswith("_m1"):
        return {"bp-a", "ox-a", "bp-b", "spare-m1"}
    return {"bp-c", "spare-m2"}


def field_of(name: str) -> Callable[[Any], set[Any]]:
    return lambda body: {row[name] for row in body}


CARE_ONLY = EVERYONE - CARE
READERS = EVERYONE - CARE - PATIENTS
CLINICIAN_ONLY = (EVERYONE - CARE) | {"nurse_a", "nurse_c"}

ENDPOINTS = (
    # Patient A's clinical data.
    Endpoint(
        name="patient",
        method="GET",
        path=patient_a,
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
    ),
    Endpoint(
        name="readings",
        method="GET",
        path=lambda w: f"{patient_a(w)}/readings",
        ok=TEAM_A | PATIENTS,
        forbidden=READERS,
        audit="patient",
    ),
    Endpoint(
        name="series",
        method="GET",
        path=lambda w: f"{patient_a(w)}/readings/series",
        params={"kind": "spo2"},
        ok=TEAM_A | PATIENTS,
        forbidden=READERS,
        audit="patient",
    ),
    Endpoint(
        name="csv",
        method="GET",
        path=lambda w: f"{patient_a(w)}/readings.csv",
        ok=TEAM_A | PATIENTS,
        forbidden=READERS,
        audit="patient",
    ),
    Endpoint(
        name="thresholds",
        method="GET",
        path=lambda w: f"{patient_a(w)}/thresholds",
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
    ),
    Endpoint(
        name="threshold-history",
        method="GET",
        path=lambda w: f"{patient_a(w)}/thresholds/history",
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
    ),
    Endpoint(
        name="plan",
        method="GET",
        path=lambda w: f"{patient_a(w)}/plan",
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
    ),
    Endpoint(
        name="oximetry",
        method="GET",
        path=lambda w: f"{patient_a(w)}/oximetry-nights",
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
    ),
    Endpoint(
        name="threshold-update",
        method="PUT",
        path=lambda w: f"{patient_a(w)}/thresholds/spo2",
        body=lambda w: {"red_low": 85.0},
        ok=frozenset({"clinician_a"}),
        forbidden=CLINICIAN_ONLY,
        audit="patient",
        accepted=CHANGE,
    ),
    Endpoint(
        name="enrol",
        method="PUT",
        path=lambda w: f"{patient_a(w)}/plan",
        body=lambda w: {"program": "copd"},
        ok=frozenset({"clinician_a"}),
        forbidden=CLINICIAN_ONLY,
        audit="patient",
        accepted=CHANGE,
    ),
    Endpoint(
        name="schedule",
        method="PUT",
        path=lambda w: f"{patient_a(w)}/schedules/systolic",
        body=lambda w: {"times": ["08:00:00"]},
        ok=frozenset({"clinician_a"}),
        forbidden=CLINICIAN_ONLY,
        audit="patient",
        accepted=CHANGE,
    ),
    Endpoint(
        name="passive-period",
        method="POST",
        path=lambda w: f"{patient_a(w)}/passive-periods",
        body=lambda w: {"start": "2027-01-01T00:00:00Z", "reason": "holiday"},
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
        accepted=CHANGE,
    ),
    Endpoint(
        name="identity",
        method="GET",
        path=lambda w: f"/identities/{w.patients['a']}",
        ok=TEAM_A | PATIENTS | {"fleet_m1", "admin_m1"},
        forbidden=AUDITORS,
        audit="patient",
    ),
    Endpoint(
        name="patient-audit",
        method="GET",
        path=lambda w: f"/audit/patients/{w.patients['a']}",
        ok=frozenset({"auditor_m1", "patient_a"}),
        forbidden=EVERYONE - AUDITORS - PATIENTS,
        audit="patient",
    ),
    # Patient A's alert.
    Endpoint(
        name="alert",
        method="GET",
        path=lambda w: f"/alerts/{w.alerts['a']}",
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
    ),
    Endpoint(
        name="alert-history",
        method="GET",
        path=lambda w: f"/alerts/{w.alerts['a']}/history",
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
    ),
    Endpoint(
        name="acknowledge",
        method="POST",
        path=lambda w: f"/alerts/{w.alerts['a']}/acknowledge",
        body=lambda w: {"note": "seen"},
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
        accepted=CHANGE,
    ),
    Endpoint(
        name="resolve",
        method="POST",
        path=lambda w: f"/alerts/{w.alerts['a']}/resolve",
        ok=TEAM_A,
        forbidden=CARE_ONLY,
        audit="patient",
        accepted=CHANGE,
    ),
    # Lists.
    Endpoint(
        name="triage",
        method="GET",
        path=lambda w: "/patients",
        ok=CARE,
        forbidden=CARE_ONLY,
        audit="list",
        scope=care_visible,
        ids=field_of("patient_id"),
    ),
    # Acknowledge all green: the reviews made list the patients acted on (patient A once
    # its alert is resolved by an earlier row of the matrix, else nobody).
    Endpoint(
        name="green-review",
        method="POST",
        path=lambda w: "/patients/reviews/green",
        body=lambda w: {},
        ok=CARE,
        forbidden=CARE_ONLY,
        audit="list",
        scope=care_visible,
        ids=field_of("patient_id"),
    ),
    Endpoint(
        name="alerts",
        method="GET",
        path=lambda w: "/alerts",
        ok=CARE,
        forbidden=CARE_ONLY,
        audit="list",
        scope=care_visible,
        ids=field_of("patient_id"),
    ),
    Endpoint(
        name="identities",
        method="GET",
        path=lambda w: "/identities",
        ok=EVERYONE - AUDITORS,
        forbidden=AUDITORS,
        audit="list",
        scope=identity_visible,
        ids=field_of("patient_id"),
    ),
    Endpoint(
        name="own-alerts",
        method="GET",
        path=lambda w: "/me/alerts",
        ok=PATIENTS,
        forbidden=EVERYONE - PATIENTS,
        audit="list",
        scope=lambda w, u: {w.alerts["a"]},
        ids=field_of("id"),
    ),
    Endpoint(
        name="own-audit",
        method="GET",
        path=lambda w: "/me/audit",
        ok=PATIENTS,
        forbidden=EVERYONE - PATIENTS,
        audit="list",
        scope=lambda w, u: {w.patients["a"]},
        ids=field_of("patient_id"),
    ),
    Endpoint(
        name="me",
        method="GET",
        path=lambda w: "/me",
        ok=EVERYONE,
        forbidden=frozenset(),
        audit="none",
    ),
    # The fleet.
    Endpoint(
        name="devices",
        method="GET",
        path=lambda w: "/fleet/devices",
        ok=FLEET,
        forbidden=EVERYONE - FLEET,
        audit="list",
        scope=devices_of,
        ids=field_of("id"),
    ),
    Endpoint(
        name="gateways",
        method="GET",
        path=lambda w: "/fleet/gateways",
        ok=FLEET,
        forbidden=EVERYONE - FLEET,
        audit="none",
        scope=gateways_of,
        ids=field_of("id"),
    ),
    Endpoint(
        name="technical-alerts",
        method="GET",
        path=lambda w: "/fleet/alerts",
        ok=FLEET,
        forbidden=EVERYONE - FLEET,
        audit="list",
        scope=organization_of,
        ids=field_of("organization_id"),
    ),
    Endpoint(
        name="device",
        method="GET",
        path=lambda w: "/fleet/devices/bp-a",
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="device",
    ),
    Endpoint(
        name="device-assignments",
        method="GET",
        path=lambda w: "/fleet/devices/bp-a/assignments",
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="device",
    ),
    Endpoint(
        name="transition",
        method="POST",
        path=lambda w: "/fleet/devices/spare-m1/transitions",
        body=lambda w: {"to": "cleaning"},
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="none",
        accepted=CHANGE,
    ),
    Endpoint(
        name="assign",
        method="POST",
        path=lambda w: "/fleet/devices/spare-m1/assignments",
        body=lambda w: {"patient_id": w.patients["a"]},
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="device",
        accepted=CHANGE,
    ),
    Endpoint(
        name="unassign",
        method="POST",
        path=lambda w: f"/fleet/assignments/{w.assignments['bp-b']}/end",
        body=lambda w: {},
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="device",
        accepted=CHANGE,
    ),
    Endpoint(
        name="gateway",
        method="GET",
        path=lambda w: "/fleet/gateways/gw-m1",
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="none",
    ),
    Endpoint(
        name="gateway-config",
        method="GET",
        path=lambda w: "/fleet/gateways/gw-m1/config",
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="none",
    ),
    # No broker in this app: allowed callers get as far as the publish (503).
    Endpoint(
        name="config-push",
        method="PUT",
        path=lambda w: "/fleet/gateways/gw-m1/config",
        body=lambda w: {"devices": [{"device_id": "bp-a"}]},
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="none",
        accepted=frozenset({503}),
    ),
    Endpoint(
        name="technical-alert",
        method="GET",
        path=lambda w: f"/fleet/alerts/{w.alerts['tech_m1']}",
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="none",
    ),
    Endpoint(
        name="technical-acknowledge",
        method="POST",
        path=lambda w: f"/fleet/alerts/{w.alerts['tech_m1']}/acknowledge",
        body=lambda w: {},
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="none",
        accepted=CHANGE,
    ),
    Endpoint(
        name="technical-resolve",
        method="POST",
        path=lambda w: f"/fleet/alerts/{w.alerts['tech_m1']}/resolve",
        ok=frozenset({"fleet_m1"}),
        forbidden=EVERYONE - FLEET,
        audit="none",
        accepted=CHANGE,
    ),
    Endpoint(
        name="device-create",
        method="POST",
        path=lambda w: "/fleet/devices",
        body=lambda w: {"id": "new-device", "model": "omron-bp"},
        ok=FLEET,
        forbidden=EVERYONE - FLEET,
        audit="none",
        accepted=CHANGE,
    ),
    Endpoint(
        name="gateway-create",
        method="POST",
        path=lambda w: "/fleet/gateways",
        body=lambda w: {"id": "gw-new"},
        ok=FLEET,
        forbidden=EVERYONE - FLEET,
        audit="none",
        accepted=CHANGE,
    ),
    # Administration and audit.
    Endpoint(
        name="users",
        method="GET",
        path=lambda w: "/users",
        ok=ADMINS,
        forbidden=EVERYONE - ADMINS,
        audit="none",
        scope=organization_of,
        ids=field_of("organization_id"),
    ),
    Endpoint(
        name="user",
        method="GET",
        path=lambda w: f"/users/{w.users['nurse_a']}",
        ok=frozenset({"admin_m1"}),
        forbidden=EVERYONE - ADMINS,
        audit="none",
    ),
    Endpoint(
        name="user-create",
        method="POST",
        path=lambda w: "/users",
        body=lambda w: {
            "username": "new_user",
            "display_name": "New",
            "role": "nurse",
            "password": "a long enough password",
        },
        ok=ADMINS,
        forbidden=EVERYONE - ADMINS,
        audit="none",
        accepted=CHANGE,
    ),
    Endpoint(
        name="user-disable",
        method="POST",
        path=lambda w: f"/users/{w.users['disabled_a']}/disable",
        ok=frozenset({"admin_m1"}),
        forbidden=EVERYONE - ADMINS,
        audit="none",
    ),
    Endpoint(
        name="user-password",
        method="PUT",
        path=lambda w: f"/users/{w.users['disabled_a']}/password",
        body=lambda w: {"password": "a long enough password"},
        ok=frozenset({"admin_m1"}),
        forbidden=EVERYONE - ADMINS,
        audit="none",
    ),
    Endpoint(
        name="user-external-identity",
        method="PUT",
        path=lambda w: f"/users/{w.users['disabled_a']}/external-identity",
        body=lambda w: {"issuer": "https://idp.example/realms/care", "subject": "matrix"},
        ok=frozenset({"admin_m1"}),
        forbidden=EVERYONE - ADMINS,
        audit="none",
    ),
    Endpoint(
        name="care-teams",
        method="GET",
        path=lambda w: "/care-teams",
        ok=ADMINS,
        forbidden=EVERYONE - ADMINS,
        audit="none",
        scope=organization_of,
        ids=field_of("organization_id"),
    ),
    Endpoint(
        name="care-team-create",
        method="POST",
        path=lambda w: "/care-teams",
        body=lambda w: {"name": "New team"},
        ok=ADMINS,
        forbidden=EVERYONE - ADMINS,
        audit="none",
        accepted=CHANGE,
    ),
    Endpoint(
        name="member-add",
        method="PUT",
        path=lambda w: f"/care-teams/{w.teams['a']}/members/{w.users['nurse_a']}",
        ok=frozenset({"admin_m1"}),
        forbidden=EVERYONE - ADMINS,
        audit="none",
    ),
    Endpoint(
        name="member-remove",
        method="DELETE",
        path=lambda w: f"/care-teams/{w.teams['a']}/members/{w.users['clinician_b']}",
        ok=frozenset({"admin_m1"}),
        forbidden=EVERYONE - ADMINS,
        audit="none",
    ),
    Endpoint(
        name="team-patient-add",
        method="PUT",
        path=lambda w: f"/care-teams/{w.teams['a']}/patients/{w.patients['a']}",
        ok=frozenset({"admin_m1"}),
        forbidden=EVERYONE - ADMINS,
        audit="patient",
    ),
    Endpoint(
        name="team-patient-remove",
        method="DELETE",
        path=lambda w: f"/care-teams/{w.teams['b']}/patients/{w.patients['a']}",
        ok=frozenset({"admin_m1"}),
        forbidden=EVERYONE - ADMINS,
        audit="patient",
    ),
    Endpoint(
        name="patient-register",
        method="POST",
        path=lambda w: "/patients",
        body=lambda w: {"name": "New Patient"},
        ok=ADMINS,
        forbidden=EVERYONE - ADMINS,
        audit="created",
        accepted=CHANGE,
    ),
    # FHIR.
    Endpoint(
        name="fhir-patient",
        method="GET",
        path=lambda w: f"/fhir/Patient/{w.patients['a']}",
        ok=TEAM_A | PATIENTS,
        forbidden=READERS,
        audit="patient",
    ),
    Endpoint(
        name="fhir-patients",
        method="GET",
        path=lambda w: "/fhir/Patient",
        ok=CARE | PATIENTS,
        forbidden=READERS,
        audit="list",
        scope=lambda w, u: care_visible(w, u) | ({w.patients["a"]} if u == "patient_a" else set()),
        ids=lambda body: {int(e["resource"]["id"]) for e in body["entry"]},
    ),
    Endpoint(
        name="fhir-device",
        method="GET",
        path=lambda w: "/fhir/Device/bp-a",
        ok=TEAM_A | PATIENTS,
        forbidden=READERS,
        audit="device",
    ),
    Endpoint(
        name="fhir-devices",
        method="GET",
        path=lambda w: "/fhir/Device",
        ok=CARE | PATIENTS,
        forbidden=READERS,
        audit="list",
        scope=lambda w, u: care_visible(w, u) | ({w.patients["a"]} if u == "patient_a" else set()),
        ids=lambda body: {_subject(e["resource"]["patient"]) for e in body["entry"]},
    ),
    Endpoint(
        name="fhir-observations",
        method="GET",
        path=lambda w: "/fhir/Observation",
        ok=CARE | PATIENTS,
        forbidden=READERS,
        audit="list",
        scope=lambda w, u: care_visible(w, u) | ({w.patients["a"]} if u == "patient_a" else set()),
        ids=lambda body: {_subject(e["resource"]["subject"]) for e in body["entry"]},
    ),
    Endpoint(
        name="fhir-export",
        method="GET",
        path=lambda w: "/fhir/$export",
        ok=CARE | PATIENTS,
        forbidden=READERS,
        audit="export",
        accepted=frozenset({202}),
        scope=lambda w, u: care_visible(w, u) | ({w.patients["a"]} if u == "patient_a" else set()),
    ),
    # nurse_a's export job (made by the ``export_job`` fixture): nobody else's to see.
    Endpoint(
        name="fhir-export-status",
        method="GET",
        path=lambda w: f"/fhir/$export-status/{EXPORT_JOB['id']}",
        ok=frozenset({"nurse_a"}),
        forbidden=frozenset(),
        audit="none",
    ),
    Endpoint(
        name="fhir-export-file",
        method="GET",
        path=lambda w: f"/fhir/$export-file/{EXPORT_JOB['id']}/Patient.ndjson",
        ok=frozenset({"nurse_a"}),
        forbidden=frozenset(),
        audit="none",
    ),
    Endpoint(
        name="fhir-export-delete",
        method="DELETE",
        path=lambda w: f"/fhir/$export-status/{EXPORT_JOB['id']}",
        ok=frozenset({"nurse_a"}),
        forbidden=frozenset(),
        audit="none",
        accepted=frozenset({202}),
    ),
    Endpoint(
        name="user-audit",
        method="GET",
        path=lambda w: f"/audit/users/{w.users['nurse_a']}",
        ok=frozenset({"auditor_m1"}),
        forbidden=EVERYONE - AUDITORS,
        audit="trail",
    ),
)

BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}
EXPORT_JOB: dict[str, str] = {}
EXPORT_WAIT_S = 30.0


def _subject(reference: dict[str, str]) -> int:
    return int(reference["reference"].removeprefix("Patient/"))


def wait_for_export(client, status_url: str, token: str) -> None:
    deadline = time.monotonic() + EXPORT_WAIT_S
    while client.get(status_url, headers=bearer(token)).status_code == 202:
        assert time.monotonic() < deadline, "export did not finish"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def export_job(client, world, audit):
    """A finished export of nurse_a's, for the status and file endpoints."""
    token = mint(world, "nurse_a")
    kickoff = client.get("/fhir/$export", params={"_type": "Patient"}, headers=bearer(token))
    status_url = kickoff.headers["content-location"]
    wait_for_export(client, status_url, token)
    EXPORT_JOB["id"] = status_url.rsplit("/", 1)[1]
    audit.new()
    return EXPORT_JOB["id"]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def broken_token(world: World, kind: str) -> str | None:
    if kind == "no-token":
        return None
    if kind == "expired":
        return mint(world, "nurse_a", now=utc_now() - timedelta(hours=1))
    if kind == "wrong-signature":
        return mint(world, "nurse_a", secret="not-the-secret-0123456789abcdefghij")
    claims = jwt.decode(
        mint(world, "nurse_a"), SECRET, algorithms=["HS256"], audience="telecare-api"
    )
    return f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}."


class Audit:
    """Reads the records each request added."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.mark = self._last()

    def _last(self) -> int:
        row = self.conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()
        assert row is not None
        return int(row[0])

    def new(self) -> list[tuple[Any, ...]]:
        rows = self.conn.execute(
            "SELECT user_id, patient_id, outcome FROM audit_log WHERE id > %s ORDER BY id",
            (self.mark,),
        ).fetchall()
        self.mark = self._last()
        return rows


@pytest.fixture(scope="module")
def audit(world_db):
    tracker = Audit(world_db.url)
    yield tracker
    tracker.conn.close()


def expected_status(endpoint: Endpoint, user: str) -> str:
    if user in endpoint.ok:
        return "ok"
    if user in endpoint.forbidden:
        return "forbidden"
    return "not-found"


def clinical_fields(body: Any) -> set[str]:
    if isinstance(body, dict):
        return (set(body) & CLINICAL_FIELDS) | {
            f for v in body.values() for f in clinical_fields(v)
        }
    if isinstance(body, list):
        return {f for item in body for f in clinical_fields(item)}
    return set()


def call(client, world: World, endpoint: Endpoint, token: str | None):
    headers = {} if token is None else bearer(token)
    body = None if endpoint.body is None else endpoint.body(world)
    return client.request(
        endpoint.method, endpoint.path(world), params=endpoint.params, json=body, headers=headers
    )


@pytest.mark.parametrize("user", sorted(EVERYONE))
@pytest.mark.parametrize("name", list(BY_NAME))
def test_matrix(client, world, audit, export_job, name, user):
    endpoint = BY_NAME[name]
    response = call(client, world, endpoint, mint(world, user))
    if endpoint.audit == "export" and response.status_code == 202:
        wait_for_export(client, response.headers["content-location"], mint(world, user))
    expected = expected_status(endpoint, user)
    if expected == "ok":
        assert response.status_code in endpoint.accepted, response.text
    elif expected == "forbidden":
        assert response.status_code == 403, response.text
    else:
        assert response.status_code == 404, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
    json_types = ("application/json", "application/fhir+json")
    body = response.json() if response.headers.get("content-type") in json_types else None
    if response.status_code == 200 and endpoint.ids is not None and endpoint.scope is not None:
        assert endpoint.ids(body) <= endpoint.scope(world, user), "foreign rows listed"
    if user in FLEET and response.status_code < 300:
        assert not clinical_fields(body), "clinical fields sent to a fleet role"
    records = audit.new()
    user_id = world.users[user]
    assert all(record[0] == user_id for record in records), records
    patient = world.patients["a"]
    if endpoint.audit == "patient":
        outcome = {"ok": "success", "forbidden": "denied", "not-found": "denied"}[expected]
        if response.status_code == 409:
            outcome = "error"
        assert records == [(user_id, patient, outcome)]
    elif endpoint.audit == "list":
        listed = set() if response.status_code != 200 else _listed_patients(world, endpoint, body)
        assert sorted(r[1] for r in records) == sorted(listed)
        assert {r[2] for r in records} <= {"success"}
    elif endpoint.audit == "device":
        # The device's patient: bp-a's, the one spare-m1 is assigned to, or bp-b's.
        holder = world.patients["b"] if name == "unassign" else patient
        expected_records = [(user_id, holder, "success")] if response.status_code in SUCCESS else []
        assert records == expected_records
    elif endpoint.audit == "export":
        assert endpoint.scope is not None
        expected_patients = endpoint.scope(world, user) if response.status_code == 202 else set()
        assert sorted(r[1] for r in records) == sorted(expected_patients)
    elif endpoint.audit == "created":
        if response.status_code in SUCCESS:
            assert body is not None
            assert records == [(user_id, body["patient_id"], "success")]
        else:
            assert records == []
    elif endpoint.audit == "trail":
        if response.status_code == 200:
            assert body is not None
            assert {r[1] for r in records} == {row["patient_id"] for row in body} - {None}
        else:
            assert records == []
    else:
        assert records == []


def _listed_patients(world: World, endpoint: Endpoint, body: Any) -> set[int]:
    if endpoint.name.startswith("fhir-"):
        assert endpoint.ids is not None
        return endpoint.ids(body)
    if endpoint.name == "own-alerts":
        return {world.patients["a"]}
    if endpoint.name == "own-audit":
        return {world.patients["a"]}
    if endpoint.name in ("devices",):
        return {row["patient_id"] for row in body if row["patient_id"] is not None}
    if endpoint.name == "technical-alerts":
        return {row["patient_id"] for row in body if row["patient_id"] is not None}
    return {row["patient_id"] for row in body}


@pytest.mark.parametrize("broken", ["no-token", "expired", "wrong-signature", "alg-none"])
@pytest.mark.parametrize("name", list(BY_NAME))
def test_broken_credentials(client, world, audit, export_job, name, broken):
    endpoint = BY_NAME[name]
    response = call(client, world, endpoint, broken_token(world, broken))
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthenticated"
    records = audit.new()
    if endpoint.audit == "patient":
        assert records == [(None, world.patients["a"], "denied")]
    else:
        assert records == []


def test_the_matrix_covers_every_endpoint(client):
    """Every operation in the OpenAPI document is in the matrix (or the live stream's test)."""
    covered = {(e.method, _template(e)) for e in ENDPOINTS}
    operations = {
        (method.upper(), path)
        for path, item in client.get("/openapi.json").json()["paths"].items()
        for method in item
    }
    unauthenticated = {
        ("GET", "/health"),
        ("POST", "/auth/token"),
        ("POST", "/auth/logout"),
        ("GET", "/fhir/metadata"),
    }
    live = {("GET", "/alerts/stream")}
    assert operations - unauthenticated - live - covered == set()


def _template(endpoint: Endpoint) -> str:
    templates = {
        "patient": "/patients/{patient_id}",
        "readings": "/patients/{patient_id}/readings",
        "series": "/patients/{patient_id}/readings/series",
        "csv": "/patients/{patient_id}/readings.csv",
        "thresholds": "/patients/{patient_id}/thresholds",
        "threshold-history": "/patients/{patient_id}/thresholds/history",
        "plan": "/patients/{patient_id}/plan",
        "oximetry": "/patients/{patient_id}/oximetry-nights",
        "threshold-update": "/patients/{patient_id}/thresholds/{kind}",
        "enrol": "/patients/{patient_id}/plan",
        "schedule": "/patients/{patient_id}/schedules/{kind}",
        "passive-period": "/patients/{patient_id}/passive-periods",
        "identity": "/identities/{patient_id}",
        "patient-audit": "/audit/patients/{patient_id}",
        "alert": "/alerts/{alert_id}",
        "alert-history": "/alerts/{alert_id}/history",
        "acknowledge": "/alerts/{alert_id}/acknowledge",
        "resolve": "/alerts/{alert_id}/resolve",
        "device": "/fleet/devices/{device_id}",
        "device-assignments": "/fleet/devices/{device_id}/assignments",
        "transition": "/fleet/devices/{device_id}/transitions",
        "assign": "/fleet/devices/{device_id}/assignments",
        "unassign": "/fleet/assignments/{assignment_id}/end",
        "gateway": "/fleet/gateways/{gateway_id}",
        "gateway-config": "/fleet/gateways/{gateway_id}/config",
        "config-push": "/fleet/gateways/{gateway_id}/config",
        "technical-alert": "/fleet/alerts/{alert_id}",
        "technical-acknowledge": "/fleet/alerts/{alert_id}/acknowledge",
        "technical-resolve": "/fleet/alerts/{alert_id}/resolve",
        "user": "/users/{user_id}",
        "user-disable": "/users/{user_id}/disable",
        "user-password": "/users/{user_id}/password",
        "user-external-identity": "/users/{user_id}/external-identity",
        "member-add": "/care-teams/{team_id}/members/{user_id}",
        "member-remove": "/care-teams/{team_id}/members/{user_id}",
        "team-patient-add": "/care-teams/{team_id}/patients/{patient_id}",
        "team-patient-remove": "/care-teams/{team_id}/patients/{patient_id}",
        "user-audit": "/audit/users/{user_id}",
        "fhir-patient": "/fhir/Patient/{patient_id}",
        "fhir-device": "/fhir/Device/{device_id}",
        "fhir-export-status": "/fhir/$export-status/{job_id}",
        "fhir-export-file": "/fhir/$export-file/{job_id}/{name}",
        "fhir-export-delete": "/fhir/$export-status/{job_id}",
    }
    fixed = {
        "triage": "/patients",
        "green-review": "/patients/reviews/green",
        "alerts": "/alerts",
        "identities": "/identities",
        "own-alerts": "/me/alerts",
        "own-audit": "/me/audit",
        "me": "/me",
        "devices": "/fleet/devices",
        "gateways": "/fleet/gateways",
        "technical-alerts": "/fleet/alerts",
        "device-create": "/fleet/devices",
        "gateway-create": "/fleet/gateways",
        "users": "/users",
        "user-create": "/users",
        "care-teams": "/care-teams",
        "care-team-create": "/care-teams",
        "patient-register": "/patients",
        "fhir-patients": "/fhir/Patient",
        "fhir-devices": "/fhir/Device",
        "fhir-observations": "/fhir/Observation",
        "fhir-export": "/fhir/$export",
    }
    return templates.get(endpoint.name) or fixed[endpoint.name]
