-- Gateways, devices and which patient has which device when.

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
    )
);
CREATE INDEX device_assignments_device ON device_assignments (device_id, period);
CREATE INDEX device_assignments_patient ON device_assignments (patient_id);

-- One patient per device at any instant: no two periods of a device overlap. Not an
-- EXCLUDE constraint, which needs the btree_gist contrib module for "device_id WITH =",
-- and servers without contrib (pgserver's wheel, some hosted services) would then refuse
-- the schema; a trigger holds the rule on every PostgreSQL, so the tested path is the
-- deployed one. It reports what the EXCLUDE constraint would have (SQLSTATE 23P01
-- exclusion_violation, constraint device_assignments_one_patient), so callers that map
-- that error keep working.
--
-- Two transactions must not both pass the check for the same device: each first writes
-- the device's row (a no-op update, holding its row lock until commit), so the second
-- waits for the first. Under READ COMMITTED the second's check, a new statement, then
-- sees the first's committed period; under REPEATABLE READ or SERIALIZABLE its snapshot
-- would not, but the update of a row a concurrent transaction updated fails there with
-- serialization_failure (PostgreSQL docs 13.2.2). A lock without a write (SELECT ... FOR
-- UPDATE) would not: a row that was only locked raises nothing, and the stale snapshot
-- would miss the first period. The update changes no key, so it does not block foreign
-- keys that point at the device (FOR NO KEY UPDATE, docs 13.3.2).
CREATE FUNCTION device_assignments_one_patient() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    taken tstzrange;
BEGIN
    UPDATE devices SET lifecycle_state = lifecycle_state WHERE id = NEW.device_id;
    SELECT a.period INTO taken
        FROM device_assignments AS a
        WHERE a.device_id = NEW.device_id AND a.period && NEW.period AND a.id <> NEW.id
        ORDER BY lower(a.period)
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'device % is assigned already during %', NEW.device_id, taken
            USING ERRCODE = 'exclusion_violation',
                  CONSTRAINT = 'device_assignments_one_patient',
                  TABLE = TG_TABLE_NAME,
                  SCHEMA = TG_TABLE_SCHEMA,
                  DETAIL = format('The period %s overlaps it.', NEW.period),
                  HINT = 'End the current assignment before the new one starts.';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER device_assignments_one_patient
    BEFORE INSERT OR UPDATE OF device_id, period ON device_assignments
    FOR EACH ROW EXECUTE FUNCTION device_assignments_one_patient();
