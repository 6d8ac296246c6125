"""Token and account models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.principal import Role


class TokenResponse(BaseModel):
    """RFC 6749 section 5.1 access token response."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class RefreshTokenBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    """The caller's own account."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    username: str
    display_name: str
    role: Role
    organization_id: int
    patient_id: int | None
