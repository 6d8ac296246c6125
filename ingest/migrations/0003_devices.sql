-- Gateways, devices and which patient has which device when.
--
-- The EXCLUDE constraint on device_assignments needs btree_gist for "device_id WITH =".
-- It is part of PostgreSQL's contrib modules (in Debian's postgresql-NN package) and a
-- trusted extension since PostgreSQL 13, so the database owner may create it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'btree_gist') THEN
        RAISE EXCEPTION 'telecare needs the btree_gist extension, which this server lacks'
            USING HINT = 'Install the PostgreSQL contrib modules (btree_gist) on the server.';
    END IF;
END $$;
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE gateways (
    -- The id in the gateway's MQTT topics and broker credentials (gateway/contract.py).
    id                text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    organization_id   bigint NOT NULL REFERENCES organizations (id),
    -- Last status from the retained .../status topic or its LWT; 'unknown' until first heard.
    state             text NOT NULL DEFAULT 'unknown' CHECK (state IN ('unknown', 'online', 'offline')),
    software_version  text,
    outbox_depth      integer CHECK (outbox_depth >= 0),
    status_at         timestamptz,
    last_seen         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    -- The id the gateway reports in Reading.device_id (gateway/contract.py validates it).
    id                 text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
    organization_id    bigint NOT NULL REFERENCES organizations (id),
    model              text NOT NULL CHECK (model <> ''),
    serial_number      text,
    bluetooth_address  macaddr UNIQUE,
    -- Fleet lifecycle (the api issue lists these states and owns the transitions).
    lifecycle_state    text NOT NULL DEFAULT 'in_stock' CHECK (lifecycle_state IN (
        'in_stock', 'assigned', 'in_use', 'pickup_requested', 'returned', 'cleaning', 'retired'
    )),
    -- Last reported by a gateway's status payload.
    firmware_revision  text,
    battery_percent    smallint CHECK (battery_percent BETWEEN 0 AND 100),
    rssi_dbm           smallint,
    last_seen          timestamptz,
    last_gateway_id    text REFERENCES gateways (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model, serial_number)
);

-- Who had a device when: readings are attributed to the patient whose period contains
-- their measured_at, so a reused device's old readings never reach its next patient.
-- Periods are half-open [from, until); an open end means "still assigned".
CREATE TABLE device_assignments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id    text NOT NULL REFERENCES devices (id),
    patient_id   bigint NOT NULL REFERENCES patients (id),
    period       tstzrange NOT NULL,
    assigned_by  bigint REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT device_assignments_period_valid CHECK (
        NOT isempty(period) AND NOT lower_inf(period) AND lower_inc(period) AND NOT upper_inc(period)
    ),
    CONSTRAINT device_assignments_one_patient EXCLUDE USING gist (device_id WITH =, period WITH &&)
);
CREATE INDEX device_assignments_patient ON device_assignments (patient_id);
