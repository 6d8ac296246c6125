"""Who is calling: the roles and the authenticated principal.

A principal is loaded from the database on every request (a disabled user or a changed
role takes effect at once, not when the token expires); tokens only say who it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A user's one role; the values are ``users.role`` (migration 0001)."""

    CLINICIAN = "clinician"
    NURSE = "nurse"
    FLEET_MANAGER = "fleet_manager"
    ORGANIZATION_ADMIN = "organization_admin"
    AUDITOR = "auditor"
    PATIENT = "patient"


# Health professionals: they see the patients of their care teams (ARCHITECTURE.md).
CARE_ROLES = frozenset({Role.CLINICIAN, Role.NURSE})


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated, enabled user."""

    user_id: int
    username: str
    display_name: str
    role: Role
    organization_id: int
    # Set exactly for the patient role: the patient the account belongs to.
    patient_id: int | None = None

    def __post_init__(self) -> None:
        if (self.role is Role.PATIENT) != (self.patient_id is not None):
            raise ValueError("a patient account has a patient id, and only it")
