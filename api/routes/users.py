"""``/users`` and ``/care-teams``: accounts and teams of the caller's organization.

Organization admins only. Admins see and change their own organization's users and
teams; a team may take members from other organizations by user id (cross-organization
care). Passwords are set here but never shown; disabling signs the user out everywhere.
"""

from __future__ import annotations

from dataclasses import asdict
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from api.audit import Action
from api.deps import AuditorDep, roles
from api.errors import NotFoundError
from api.principal import Principal, Role
from api.problem import responses
from api.queries import care_teams
from api.queries.users import (
    create_user,
    disable_user,
    get_user,
    link_external_identity,
    list_users,
    set_password,
)
from api.schemas.users import (
    CareTeamCreate,
    CareTeamOut,
    ExternalIdentityBody,
    PasswordBody,
    UserCreate,
    UserOut,
)

router = APIRouter(tags=["administration"])

Admin = Annotated[Principal, Depends(roles(Role.ORGANIZATION_ADMIN))]
_ONE = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
_CHANGE = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT)


@router.get("/users", responses=responses(HTTPStatus.FORBIDDEN))
async def user_list(auditor: AuditorDep, caller: Admin) -> list[UserOut]:
    found = await list_users(auditor.conn, organization_id=caller.organization_id)
    return [UserOut(**asdict(user)) for user in found]


@router.post("/users", status_code=HTTPStatus.CREATED, responses=_CHANGE)
async def user_create(auditor: AuditorDep, caller: Admin, body: UserCreate) -> UserOut:
    """Add a user to the caller's organization (a patient account names its patient)."""
    user = await create_user(
        auditor.conn,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        organization_id=caller.organization_id,
        password=body.password,
        patient_id=body.patient_id,
        external=(
            None
            if body.external_identity is None
            else (body.external_identity.issuer, body.external_identity.subject)
        ),
    )
    if user.patient_id is not None:
        await auditor.record([user.patient_id], action=Action.CREATE, resource="users")
    return UserOut(**asdict(user))


@router.get("/users/{user_id}", responses=_ONE)
async def user_detail(auditor: AuditorDep, caller: Admin, user_id: int) -> UserOut:
    user = await get_user(auditor.conn, user_id, organization_id=caller.organization_id)
    return UserOut(**asdict(user))


@router.post("/users/{user_id}/disable", responses=_ONE)
async def user_disable(auditor: AuditorDep, caller: Admin, user_id: int) -> UserOut:
    """Disable the user now: their tokens stop working at the next request."""
    user = await disable_user(auditor.conn, user_id, organization_id=caller.organization_id)
    return UserOut(**asdict(user))


@router.put("/users/{user_id}/password", status_code=HTTPStatus.NO_CONTENT, responses=_ONE)
async def user_password(
    auditor: AuditorDep, caller: Admin, user_id: int, body: PasswordBody
) -> Response:
    await set_password(auditor.conn, user_id, body.password, organization_id=caller.organization_id)
    return Response(status_code=HTTPStatus.NO_CONTENT)


@router.put(
    "/users/{user_id}/external-identity", status_code=HTTPStatus.NO_CONTENT, responses=_CHANGE
)
async def user_external_identity(
    auditor: AuditorDep, caller: Admin, user_id: int, body: ExternalIdentityBody
) -> Response:
    """Let the user sign in with the region's identity provider (OIDC ``iss``/``sub``)."""
    await link_external_identity(
        auditor.conn,
        user_id,
        issuer=body.issuer,
        subject=body.subject,
        organization_id=caller.organization_id,
    )
    return Response(status_code=HTTPStatus.NO_CONTENT)


@router.get("/care-teams", responses=responses(HTTPStatus.FORBIDDEN))
async def care_team_list(auditor: AuditorDep, caller: Admin) -> list[CareTeamOut]:
    return await care_teams.care_teams(auditor.conn, caller)


@router.post("/care-teams", status_code=HTTPStatus.CREATED, responses=_CHANGE)
async def care_team_create(auditor: AuditorDep, caller: Admin, body: CareTeamCreate) -> CareTeamOut:
    return await care_teams.create(auditor.conn, caller, body.name)


@router.put("/care-teams/{team_id}/members/{user_id}", responses=_ONE)
async def care_team_member_add(
    auditor: AuditorDep, caller: Admin, team_id: int, user_id: int
) -> CareTeamOut:
    """Put a clinician or nurse (of any organization) on the team."""
    await care_teams.add_member(auditor.conn, caller, team_id, user_id)
    return await care_teams.care_team(auditor.conn, caller, team_id)


@router.delete("/care-teams/{team_id}/members/{user_id}", responses=_ONE)
async def care_team_member_remove(
    auditor: AuditorDep, caller: Admin, team_id: int, user_id: int
) -> CareTeamOut:
    await care_teams.remove_member(auditor.conn, caller, team_id, user_id)
    return await care_teams.care_team(auditor.conn, caller, team_id)


@router.put("/care-teams/{team_id}/patients/{patient_id}", responses=_ONE)
async def care_team_patient_add(
    auditor: AuditorDep, caller: Admin, team_id: int, patient_id: int
) -> CareTeamOut:
    """Give the team the care of a patient of the organization."""
    resource = "care-teams/{team_id}/patients/{patient_id}"
    try:
        async with auditor.conn.transaction():
            await care_teams.add_patient(auditor.conn, caller, team_id, patient_id)
            await auditor.record([patient_id], action=Action.UPDATE, resource=resource)
    except NotFoundError:
        await auditor.denied(patient_id, action=Action.UPDATE, resource=resource)
        raise
    return await care_teams.care_team(auditor.conn, caller, team_id)


@router.delete("/care-teams/{team_id}/patients/{patient_id}", responses=_ONE)
async def care_team_patient_remove(
    auditor: AuditorDep, caller: Admin, team_id: int, patient_id: int
) -> CareTeamOut:
    resource = "care-teams/{team_id}/patients/{patient_id}"
    try:
        async with auditor.conn.transaction():
            await care_teams.remove_patient(auditor.conn, caller, team_id, patient_id)
            await auditor.record([patient_id], action=Action.UPDATE, resource=resource)
    except NotFoundError:
        await auditor.denied(patient_id, action=Action.UPDATE, resource=resource)
        raise
    return await care_teams.care_team(auditor.conn, caller, team_id)
