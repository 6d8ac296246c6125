"""User and care team models (organization admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.password import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from api.principal import Role


class UserOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    username: str
    display_name: str
    role: Role
    organization_id: int
    patient_id: int | None
    disabled_at: datetime | None
    created_at: datetime


class ExternalIdentityBody(BaseModel):
    """A user as an external OIDC issuer names them (its ``iss`` and ``sub`` claims)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1, max_length=400)
    subject: str = Field(min_length=1, max_length=400)


class UserCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    )
    patient_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    external_identity: ExternalIdentityBody | None = Field(
        default=None, description="sign in with this OIDC issuer's tokens for this subject"
    )

    @model_validator(mode="after")
    def _signs_in_somehow(self) -> Self:
        if self.password is None and self.external_identity is None:
            raise ValueError("a user needs a password, an external identity or both")
        return self


class PasswordBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class CareTeamOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    organization_id: int
    member_ids: list[int]
    patient_ids: list[int]


class CareTeamCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
