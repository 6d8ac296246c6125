"""The one router of the web pages, included by ``api.app``."""

from __future__ import annotations

from fastapi import APIRouter

from api.web import fleet, patient, signin, trail, worklist

router = APIRouter(include_in_schema=False)
for part in (signin.router, worklist.router, patient.router, trail.router, fleet.router):
    router.include_router(part)
