"""FHIR Bulk Data export (HL7 Bulk Data Access IG, STU 1.0.1): asynchronous NDJSON.

Kick-off answers 202 with a status URL at once; a task per job writes one NDJSON file
per resource type into a private temporary directory; polling answers 202 with
``X-Progress`` while it runs and the manifest when it is done; DELETE cancels and
removes it. A job is its creator's: anyone else polling it gets 404. Jobs live in the
api process that started them, so a deployment with several workers needs sticky
routing for the status URL (or a shared job store, not built yet). Every patient whose
data went into an export gets one audit record when the job completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from api.audit import Action, Auditor
from api.db import Connection, Pool, pooled
from api.fhir import codes, resources
from api.principal import Principal
from api.queries import fhir as queries
from api.queries.patients import identities

log = logging.getLogger(__name__)

# The resource types an export may contain (``_type``), in the order files are written.
EXPORT_TYPES = ("Patient", "Device", "Observation")
# Identities fetched per round trip.
PATIENT_PAGE = 1000


class JobState(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(kw_only=True)
class ExportJob:
    id: str
    owner: int
    request: str
    types: tuple[str, ...]
    since: datetime | None
    transaction_time: datetime
    directory: Path
    state: JobState = JobState.RUNNING
    progress: str = "queued"
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    task: asyncio.Task[None] | None = None

    def file(self, resource_type: str) -> Path:
        return self.directory / f"{resource_type}.ndjson"


class ExportJobs:
    """The export jobs of this process."""

    def __init__(self) -> None:
        self._jobs: dict[str, ExportJob] = {}

    def start(
        self,
        *,
        pool: Pool,
        principal: Principal,
        auditor_for: Callable[..., Auditor],
        request: str,
        types: tuple[str, ...],
        since: datetime | None,
        now: datetime,
    ) -> ExportJob:
        job = ExportJob(
            id=uuid.uuid4().hex,
            owner=principal.user_id,
            request=request,
            types=types,
            since=since,
            transaction_time=now,
            directory=Path(tempfile.mkdtemp(prefix="telecare-export-")),
        )
        self._jobs[job.id] = job
        job.task = asyncio.create_task(
            _run(job, pool, principal, auditor_for), name=f"export-{job.id}"
        )
        return job

    def get(self, job_id: str, *, owner: int) -> ExportJob | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    async def delete(self, job: ExportJob) -> None:
        self._jobs.pop(job.id, None)
        if job.task is not None and not job.task.done():
            job.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job.task
        shutil.rmtree(job.directory, ignore_errors=True)

    async def close(self) -> None:
        for job in list(self._jobs.values()):
            await self.delete(job)


async def _run(
    job: ExportJob, pool: Pool, principal: Principal, auditor_for: Callable[..., Auditor]
) -> None:
    exported: set[int] = set()
    try:
        async with pooled(pool) as conn:
            if "Patient" in job.types:
                job.progress = "writing Patient"
                job.counts["Patient"] = await _write(
                    job.file("Patient"), _patients(conn, principal, exported)
                )
            if "Device" in job.types:
                job.progress = "writing Device"
                found = await queries.devices(conn, principal, limit=1_000_000)
                exported.update(d.patient_id for d in found if d.patient_id is not None)
                job.counts["Device"] = await _write(
                    job.file("Device"), _iterate(resources.device(d) for d in found)
                )
            if "Observation" in job.types:
                job.progress = "writing Observation"
                job.counts["Observation"] = await _write(
                    job.file("Observation"), _observations(conn, principal, job.since, exported)
                )
            await auditor_for(conn).record(
                sorted(exported), action=Action.EXPORT, resource="fhir/$export"
            )
        job.state = JobState.COMPLETE
        job.progress = "complete"
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # reported to the poller, never lost in a task
        log.exception("export %s failed", job.id)
        job.state = JobState.FAILED
        job.error = str(exc) or type(exc).__name__


async def _iterate(items: Iterable[resources.JsonObject]) -> AsyncIterator[resources.JsonObject]:
    for item in items:
        yield item


async def _patients(
    conn: Connection, principal: Principal, exported: set[int]
) -> AsyncIterator[resources.JsonObject]:
    offset = 0
    while page := await identities(conn, principal, limit=PATIENT_PAGE, offset=offset):
        for identity in page:
            exported.add(identity.patient_id)
            yield resources.patient(identity)
        offset += len(page)


async def _observations(
    conn: Connection, principal: Principal, since: datetime | None, exported: set[int]
) -> AsyncIterator[resources.JsonObject]:
    batch: list[resources.ReadingRow] = []
    rows = queries.stream_readings(
        conn, principal, kinds=codes.OBSERVED_KINDS, received_since=since
    )
    async for row in rows:
        # Group by patient and instant so one cuff measurement stays one panel.
        if batch and (batch[-1].patient_id, batch[-1].measured_at) != (
            row.patient_id,
            row.measured_at,
        ):
            for resource in resources.observations(batch):
                yield resource
            batch = []
        exported.add(row.patient_id)
        batch.append(row)
    for resource in resources.observations(batch):
        yield resource


async def _write(path: Path, items: AsyncIterator[resources.JsonObject]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        async for item in items:
            out.write(json.dumps(item, separators=(",", ":"), ensure_ascii=False))
            out.write("\n")
            count += 1
    return count
