-- What gateways say about themselves on their retained status topic (the ingest issue,
-- #3: "online, offline, last seen, software version, outbox depth; device battery, RSSI,
-- firmware when reported"; gateway.contract Status). ingest/gateway_status_store.py
-- writes it, the watchdog's technical rules read it (ingest/rules/technical.py).

-- The values of gateway.contract GatewayFlag (tests/ingest/test_migrate.py compares).
CREATE FUNCTION gateway_flags() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['outbox_full', 'bluetooth_unavailable'];

ALTER TABLE gateways
    -- The conditions the gateway's last status named; an offline gateway keeps them.
    ADD COLUMN status_flags text[] NOT NULL DEFAULT '{}' CHECK (status_flags <@ gateway_flags()),
    -- Where the current status sits in the gateway's sequence, on the gateway's clock:
    -- the "at" of the newest status applied, kept by a Last Will that follows it (a will
    -- carries no time; status_at is then ingest's receive time). Statuses apply in this
    -- order, so a replayed retained status or a lagging ingest process never undoes a
    -- newer one (ingest/gateway_status.py).
    ADD COLUMN reported_at timestamptz;

ALTER TABLE devices
    -- What the device itself says it is (Device Information Service), next to what the
    -- fleet registered in model and serial_number: a mismatch is a swapped device.
    ADD COLUMN reported_model text,
    ADD COLUMN reported_serial text,
    -- Device clock minus gateway clock when a gateway last read it, in seconds.
    ADD COLUMN clock_offset_s double precision,
    -- The "at" of the status that last updated these columns.
    ADD COLUMN reported_at timestamptz;

-- Devices a gateway reports that no devices row knows: a stranger's device near the
-- gateway, or one of ours not registered yet. Kept for the fleet of the gateway's
-- organization to look at; never a devices row, never an assignment, never an alert.
-- Registering the device (a devices row in the gateway's organization) makes ingest
-- update that row instead and drop these.
CREATE TABLE device_sightings (
    device_id          text NOT NULL CHECK (device_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
    gateway_id         text NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
    battery_percent    smallint CHECK (battery_percent BETWEEN 0 AND 100),
    rssi_dbm           smallint,
    last_seen          timestamptz,
    firmware_revision  text,
    reported_model     text,
    reported_serial    text,
    clock_offset_s     double precision,
    first_reported_at  timestamptz NOT NULL,
    reported_at        timestamptz NOT NULL,
    PRIMARY KEY (device_id, gateway_id)
);
CREATE INDEX device_sightings_gateway ON device_sightings (gateway_id);
