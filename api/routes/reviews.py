"""``/patients/reviews``: "acknowledge all green" (clinicians and nurses)."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import APIRouter

from api.access import Scope, require
from api.audit import Action
from api.deps import AuditorDep, CallerDep
from api.problem import responses
from api.queries import reviews
from api.schemas.reviews import GreenReviewRequest, Review

router = APIRouter(tags=["patients"])

GREEN_PATH = "/patients/reviews/green"


@router.post(GREEN_PATH, responses=responses(HTTPStatus.FORBIDDEN))
async def green_review(
    auditor: AuditorDep, caller: CallerDep, body: GreenReviewRequest | None = None
) -> list[Review]:
    """Mark every patient of the caller's care teams (or of one of them) who has no open
    clinical alert as reviewed: their spot measurements received so far (up to ``up_to``)
    have been seen. Patients with an open alert, or with nothing new, are left alone;
    the answer lists the reviews made, each audited as an acknowledgement."""
    require(caller, Scope.CARE)
    chosen = body or GreenReviewRequest()
    async with auditor.conn.transaction():
        made = await reviews.review_green(
            auditor.conn, caller, care_team_id=chosen.care_team_id, up_to=chosen.up_to
        )
        await auditor.record(
            [review.patient_id for review in made],
            action=Action.ACKNOWLEDGE,
            resource=GREEN_PATH.lstrip("/"),
        )
    return made
