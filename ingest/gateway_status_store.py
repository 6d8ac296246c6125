"""Storing gateway status reports: the gateways row, its devices' rows, sightings.

``store_statuses`` writes in the caller's transaction, which commits before the status
messages are acknowledged (ingest/service.py), as for readings.

* The gateways row (state, status_at, software version, outbox depth, flags, last seen)
  follows the ordering rule of ingest/gateway_status.py, decided in the UPDATE's WHERE
  clause: PostgreSQL re-checks it on the newest row version when two processes race
  (READ COMMITTED), so the rule holds across ingest processes. status_at is the
  status's ``at``, or for a will the receive time: when the gateway went offline.
* Only registered gateways: the api creates the gateways row (it names the organization).
  A status from a gateway without one is skipped and counted; the gateway republishes
  its status at least every ``status_interval_s`` (300 s by default, gateway.contract
  RemoteSettings), so a gateway registered later shows its state within minutes.
* A device registered in the gateway's organization gets its devices row updated
  (battery, RSSI, last seen, firmware, the model and serial it reports, clock offset) if
  the report is not older than the row's last one. A device with no devices row becomes
  a ``device_sightings`` row of that gateway, for the fleet to look at. A device
  registered in another organization is left alone: a gateway cannot speak for another
  organization's devices. Nothing here creates a device, an assignment or a patient link.

Rows are locked in one order (gateways by id, then devices by id) so concurrent ingest
processes cannot deadlock on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.contract import GatewayState, Status
from ingest.db import Connection
from ingest.gateway_status import (
    DeviceReport,
    StatusReport,
    in_lock_order,
    latest_device_reports,
)

GATEWAY_ORGANIZATIONS = "SELECT id, organization_id FROM gateways WHERE id = ANY (%s)"

# The place of a status: (at, offline) for a status with a time, (previous_at, true)
# for a will; the row's place is (reported_at, state = 'offline'), null as -infinity.
# A status applies when its place comes after the row's; a will that cannot be placed
# (previous_at null) applies to a gateway not yet offline (ingest/gateway_status.py).
APPLY_STATUS = """
UPDATE gateways AS g SET
    state = %(state)s,
    status_at = coalesce(%(at)s::timestamptz, %(received_at)s),
    reported_at = %(place)s::timestamptz,
    software_version = coalesce(%(software_version)s::text, g.software_version),
    outbox_depth = coalesce(%(outbox_depth)s::integer, g.outbox_depth),
    status_flags = CASE WHEN %(at)s::timestamptz IS NULL THEN g.status_flags
                        ELSE %(flags)s::text[] END,
    last_seen = greatest(g.last_seen, %(at)s::timestamptz)
WHERE g.id = %(gateway_id)s AND CASE
    WHEN %(place)s::timestamptz IS NULL THEN g.state <> 'offline'
    ELSE (%(place)s::timestamptz, %(offline)s::boolean)
         > (coalesce(g.reported_at, '-infinity'), g.state = 'offline')
    END
"""

# One device report: update our row, or record a sighting when no row knows the device
# (and drop the sighting once one does). Counts (updated, sighted).
APPLY_DEVICE = """
WITH known AS (
    SELECT organization_id FROM devices WHERE id = %(device_id)s
), updated AS (
    UPDATE devices AS d SET
        battery_percent = coalesce(%(battery)s::smallint, d.battery_percent),
        rssi_dbm = coalesce(%(rssi)s::smallint, d.rssi_dbm),
        last_seen = greatest(d.last_seen, %(last_seen)s::timestamptz),
        firmware_revision = coalesce(%(firmware)s::text, d.firmware_revision),
        reported_model = coalesce(%(model)s::text, d.reported_model),
        reported_serial = coalesce(%(serial)s::text, d.reported_serial),
        clock_offset_s = coalesce(%(clock_offset_s)s::float8, d.clock_offset_s),
        last_gateway_id = %(gateway_id)s,
        reported_at = %(reported_at)s
    WHERE d.id = %(device_id)s AND d.organization_id = %(organization_id)s
      AND (d.reported_at IS NULL OR d.reported_at <= %(reported_at)s)
    RETURNING 1
), sighted AS (
    INSERT INTO device_sightings AS s (device_id, gateway_id, battery_percent, rssi_dbm,
        last_seen, firmware_revision, reported_model, reported_serial, clock_offset_s,
        first_reported_at, reported_at)
    SELECT %(device_id)s, %(gateway_id)s, %(battery)s::smallint, %(rssi)s::smallint,
        %(last_seen)s::timestamptz, %(firmware)s::text, %(model)s::text, %(serial)s::text,
        %(clock_offset_s)s::float8, %(reported_at)s, %(reported_at)s
    WHERE NOT EXISTS (SELECT FROM known)
    ON CONFLICT (device_id, gateway_id) DO UPDATE SET
        battery_percent = coalesce(excluded.battery_percent, s.battery_percent),
        rssi_dbm = coalesce(excluded.rssi_dbm, s.rssi_dbm),
        last_seen = greatest(s.last_seen, excluded.last_seen),
        firmware_revision = coalesce(excluded.firmware_revision, s.firmware_revision),
        reported_model = coalesce(excluded.reported_model, s.reported_model),
        reported_serial = coalesce(excluded.reported_serial, s.reported_serial),
        clock_offset_s = coalesce(excluded.clock_offset_s, s.clock_offset_s),
        reported_at = excluded.reported_at
    WHERE s.reported_at <= excluded.reported_at
    RETURNING 1
), dropped AS (
    DELETE FROM device_sightings
    WHERE device_id = %(device_id)s AND gateway_id = %(gateway_id)s AND EXISTS (SELECT FROM known)
)
SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM sighted)
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusResult:
    """What ``store_statuses`` did."""

    # Gateways rows changed (a replayed or outdated status changes none).
    applied: int = 0
    # Devices rows updated, and sightings recorded or refreshed.
    devices: int = 0
    sightings: int = 0
    # Gateways with no gateways row, whose reports were skipped.
    unregistered: frozenset[str] = frozenset()


def store_statuses(conn: Connection, reports: Sequence[StatusReport]) -> StatusResult:
    """Apply ``reports`` (in receive order) in the caller's transaction."""
    if not reports:
        return StatusResult()
    organizations: dict[str, int] = dict(
        conn.execute(GATEWAY_ORGANIZATIONS, (sorted({r.gateway_id for r in reports}),))
    )
    known = [r for r in reports if r.gateway_id in organizations and r.status is not None]
    applied = 0
    for report in in_lock_order(known):
        if report.status is not None:
            parameters = _status_parameters(report, report.status)
            applied += conn.execute(APPLY_STATUS, parameters).rowcount
    devices = sightings = 0
    for device in latest_device_reports(known):
        row = conn.execute(
            APPLY_DEVICE,
            _device_parameters(device, organization_id=organizations[device.gateway_id]),
        ).fetchone()
        if row is not None:
            devices += row[0]
            sightings += row[1]
    return StatusResult(
        applied=applied,
        devices=devices,
        sightings=sightings,
        unregistered=frozenset(r.gateway_id for r in reports) - organizations.keys(),
    )


def _status_parameters(report: StatusReport, status: Status) -> dict[str, object]:
    return {
        "gateway_id": report.gateway_id,
        "state": status.state.value,
        "at": status.at,
        "place": report.previous_at if status.at is None else status.at,
        "offline": status.state is GatewayState.OFFLINE,
        "received_at": report.received_at,
        "software_version": status.software_version,
        "outbox_depth": status.outbox_depth,
        "flags": sorted(flag.value for flag in status.flags),
    }


def _device_parameters(report: DeviceReport, *, organization_id: int) -> dict[str, object]:
    device = report.device
    return {
        "device_id": device.device_id,
        "gateway_id": report.gateway_id,
        "organization_id": organization_id,
        "reported_at": report.reported_at,
        "battery": device.battery,
        "rssi": device.rssi,
        "last_seen": device.last_seen,
        "firmware": device.firmware,
        "model": device.model,
        "serial": device.serial,
        "clock_offset_s": device.clock_offset_s,
    }
