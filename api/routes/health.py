"""``/health``: whether this process can reach its database (for load balancers)."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ConnectionDep
from api.problem import responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/health", responses=responses(HTTPStatus.SERVICE_UNAVAILABLE))
async def health(conn: ConnectionDep) -> Health:
    await conn.execute("SELECT 1")
    return Health(status="ok")
