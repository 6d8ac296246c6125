"""Who may see what: function-level grants per role and object-level scopes in SQL.

Deny by default (OWASP API5): each kind of data lists the roles granted it, and every
query that returns scoped objects embeds the caller's scope as a subquery, so a row
outside it is never read, let alone returned (OWASP API1).

    care       triage, patient detail, clinical alerts, thresholds, schedules: clinicians
               and nurses for the patients of their care teams (teams may mix
               organizations, so a region's clinician and a municipality's nurse share
               a patient)
    readings   readings and charts: care roles as above; a patient for themselves
    identity   a patient's name, address, phone (delivery identity): care roles as
               above; fleet managers and organization admins for their organization's
               patients; a patient for themselves
    audit      who looked at a patient: auditors for their organization's patients; a
               patient for themselves
    fleet      devices, gateways, assignments, technical alerts: fleet managers of the
               owning organization

A foreign object answers 404, exactly as a missing one (no existence oracle); a role
that may not use a function at all answers 403. Both are audited when a patient is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from api.audit import Action, Auditor
from api.db import Connection
from api.errors import ForbiddenError, NotFoundError
from api.principal import Principal, Role


class Scope(StrEnum):
    CARE = "care"
    READINGS = "readings"
    IDENTITY = "identity"
    AUDIT = "audit"


# The patients a care-team member may see: every patient of every team they belong to.
CARE_TEAM_PATIENTS = """
SELECT ctp.patient_id FROM care_team_patients ctp
JOIN care_team_members ctm ON ctm.care_team_id = ctp.care_team_id
WHERE ctm.user_id = %(scope_user)s"""
OWN_PATIENT = "SELECT %(scope_patient)s::bigint"
ORGANIZATION_PATIENTS = "SELECT p.id FROM patients p WHERE p.organization_id = %(scope_org)s"
NOBODY = "SELECT NULL::bigint WHERE false"

# Scope -> role -> the patients that role sees in it. A role missing from a scope is not
# granted it at all (403); every other role sees nothing of it.
SCOPES: Mapping[Scope, Mapping[Role, str]] = MappingProxyType(
    {
        Scope.CARE: {Role.CLINICIAN: CARE_TEAM_PATIENTS, Role.NURSE: CARE_TEAM_PATIENTS},
        Scope.READINGS: {
            Role.CLINICIAN: CARE_TEAM_PATIENTS,
            Role.NURSE: CARE_TEAM_PATIENTS,
            Role.PATIENT: OWN_PATIENT,
        },
        Scope.IDENTITY: {
            Role.CLINICIAN: CARE_TEAM_PATIENTS,
            Role.NURSE: CARE_TEAM_PATIENTS,
            Role.PATIENT: OWN_PATIENT,
            Role.FLEET_MANAGER: ORGANIZATION_PATIENTS,
            Role.ORGANIZATION_ADMIN: ORGANIZATION_PATIENTS,
        },
        Scope.AUDIT: {Role.AUDITOR: ORGANIZATION_PATIENTS, Role.PATIENT: OWN_PATIENT},
    }
)
# Devices, gateways, assignments and technical alerts: the owning organization's fleet.
FLEET_ROLES = frozenset({Role.FLEET_MANAGER})


def granted(principal: Principal, scope: Scope) -> bool:
    return principal.role in SCOPES[scope]


def require(principal: Principal, scope: Scope) -> None:
    """Function-level check: ``ForbiddenError`` unless the role is granted ``scope``."""
    if not granted(principal, scope):
        raise ForbiddenError(f"a {principal.role.value} may not access {scope.value} data")


def require_fleet(principal: Principal) -> None:
    if principal.role not in FLEET_ROLES:
        raise ForbiddenError(f"a {principal.role.value} may not access fleet data")


def patients_subquery(principal: Principal, scope: Scope) -> str:
    """SQL yielding the ids of the patients ``principal`` may see in ``scope``.

    Use as ``... WHERE x.patient_id IN ({subquery})`` with ``scope_params(principal)``.
    """
    return SCOPES[scope].get(principal.role, NOBODY)


def scope_params(principal: Principal) -> dict[str, Any]:
    """The parameters every scope subquery reads."""
    return {
        "scope_user": principal.user_id,
        "scope_patient": principal.patient_id,
        "scope_org": principal.organization_id,
    }


async def can_see_patient(
    conn: Connection, principal: Principal, patient_id: int, scope: Scope
) -> bool:
    cur = await conn.execute(
        f"SELECT EXISTS (SELECT FROM patients WHERE id = %(id)s "
        f"AND id IN ({patients_subquery(principal, scope)})) AS visible",
        {"id": patient_id, **scope_params(principal)},
    )
    row = await cur.fetchone()
    return bool(row and row["visible"])


async def check_patient(
    auditor: Auditor,
    principal: Principal,
    patient_id: int,
    *,
    scope: Scope,
    action: Action,
    resource: str,
    only: frozenset[Role] | None = None,
) -> None:
    """Raise (and audit the denial) unless ``principal`` may see ``patient_id`` in ``scope``
    (and, for a change, is one of the roles ``only``)."""
    if not granted(principal, scope) or (only is not None and principal.role not in only):
        await auditor.denied(patient_id, action=action, resource=resource)
        raise ForbiddenError(f"a {principal.role.value} may not do this with {scope.value} data")
    if not await can_see_patient(auditor.conn, principal, patient_id, scope):
        await auditor.denied(patient_id, action=action, resource=resource)
        raise NotFoundError("no such patient")
