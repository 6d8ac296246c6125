-- Readings and what ingest keeps aside: conflicts, quarantined readings, dead letters.
--
-- The string sets below are the values of the StrEnums in devices/reading.py (Kind, Unit,
-- AbsentReason, Flag): the wire and database strings are the enum values themselves.
-- tests/ingest/test_migrate.py compares them, so adding an enum member without a migration
-- that replaces the matching function fails the tests. CHECK constraints call the
-- functions; being IMMUTABLE with no arguments, they are folded to constants when planned.

CREATE FUNCTION reading_kinds() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY[
    'systolic', 'diastolic', 'mean_arterial_pressure', 'pulse_rate', 'spo2',
    'perfusion_index', 'cuff_pressure'
];

-- UCUM codes (https://ucum.org), as FHIR valueQuantity.code wants them.
CREATE FUNCTION reading_units() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['mm[Hg]', 'kPa', '/min', '%'];

CREATE FUNCTION absent_reasons() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY[
    'not_a_number', 'not_at_this_resolution', 'positive_infinity', 'negative_infinity',
    'reserved_value', 'device_invalid'
];

CREATE FUNCTION reading_flags() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY[
    'body_movement', 'cuff_too_loose', 'irregular_pulse', 'pulse_above_range',
    'pulse_below_range', 'improper_position', 'measurement_ongoing', 'early_estimate',
    'validated', 'fully_qualified', 'from_storage', 'demonstration', 'testing',
    'calibration_ongoing', 'measurement_unavailable', 'questionable', 'invalid',
    'extended_display_update', 'equipment_malfunction', 'signal_processing_irregularity',
    'inadequate_signal', 'poor_signal', 'low_perfusion', 'erratic_signal',
    'nonpulsatile_signal', 'questionable_pulse', 'signal_analysis_ongoing',
    'sensor_interference', 'sensor_unconnected', 'unknown_sensor', 'sensor_displaced',
    'sensor_malfunction', 'sensor_disconnected', 'probe_unplugged', 'no_finger',
    'pulse_search', 'device_clock_not_set', 'receive_time'
];

-- One quantity from one device at one instant (devices.reading.Reading), long and narrow.
-- The key (device_id, kind, measured_at) makes a replayed batch store nothing new; it
-- holds the time column because TimescaleDB requires every unique index of a hypertable
-- to contain it (0008). device_id and gateway_id carry no foreign key on purpose: a
-- reading from a device not yet registered is still stored (without a patient, visible to
-- the fleet), and the per-row key checks would cost on the hottest path. patient_id is
-- set once, at insert, from device_assignments (ingest/store.py).
CREATE TABLE readings (
    measured_at     timestamptz NOT NULL,
    device_id       text NOT NULL,
    kind            text NOT NULL CHECK (kind = ANY (reading_kinds())),
    value           double precision,
    absent_reason   text CHECK (absent_reason = ANY (absent_reasons())),
    unit            text NOT NULL CHECK (unit = ANY (reading_units())),
    patient_id      bigint,
    gateway_id      text NOT NULL,
    received_at     timestamptz NOT NULL,
    flags           text[] NOT NULL DEFAULT '{}' CHECK (flags <@ reading_flags()),
    -- The device's own wall clock, naive, exactly as sent (kept for clock-skew audits).
    device_time     timestamp,
    original_value  double precision,
    original_unit   text CHECK (original_unit = ANY (reading_units())),
    -- The user slot of a multi-user cuff (Reading.user_id, 0..255), not a telecare user.
    device_user_id  smallint CHECK (device_user_id BETWEEN 0 AND 255),
    continuous      boolean NOT NULL DEFAULT false,
    batch_id        uuid NOT NULL,
    CONSTRAINT readings_value_or_absent CHECK ((value IS NULL) <> (absent_reason IS NULL)),
    CONSTRAINT readings_original_pair CHECK ((original_value IS NULL) = (original_unit IS NULL)),
    CONSTRAINT readings_key UNIQUE (device_id, kind, measured_at)
);
-- Charts, triage (latest per kind) and alert rules read one patient's kind over time.
CREATE INDEX readings_patient_kind_time ON readings (patient_id, kind, measured_at DESC)
    WHERE patient_id IS NOT NULL;

-- The same key arrived again with a different value (or absent reason): the first stored
-- reading is kept, never overwritten, and the newcomer is recorded here (as Amazon
-- Timestream rejects a same-key record with a different measure value). Each distinct
-- conflicting value is recorded once, however often its batch is replayed.
CREATE TABLE reading_conflicts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id           text NOT NULL,
    kind                text NOT NULL CHECK (kind = ANY (reading_kinds())),
    measured_at         timestamptz NOT NULL,
    kept_value          double precision,
    kept_absent_reason  text CHECK (kept_absent_reason = ANY (absent_reasons())),
    kept_batch_id       uuid NOT NULL,
    value               double precision,
    absent_reason       text CHECK (absent_reason = ANY (absent_reasons())),
    unit                text NOT NULL CHECK (unit = ANY (reading_units())),
    flags               text[] NOT NULL DEFAULT '{}' CHECK (flags <@ reading_flags()),
    batch_id            uuid NOT NULL,
    gateway_id          text NOT NULL,
    received_at         timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reading_conflicts_value_or_absent CHECK ((value IS NULL) <> (absent_reason IS NULL)),
    CONSTRAINT reading_conflicts_once UNIQUE NULLS NOT DISTINCT
        (device_id, kind, measured_at, value, absent_reason)
);

-- Readings that decoded fine but are physiologically implausible (ingest/plausibility.py):
-- kept as received with the reason, never stored as readings, never alerting.
CREATE TABLE quarantined_readings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reason          text NOT NULL CHECK (reason <> ''),
    measured_at     timestamptz NOT NULL,
    device_id       text NOT NULL,
    kind            text NOT NULL CHECK (kind = ANY (reading_kinds())),
    value           double precision,
    absent_reason   text CHECK (absent_reason = ANY (absent_reasons())),
    unit            text NOT NULL CHECK (unit = ANY (reading_units())),
    flags           text[] NOT NULL DEFAULT '{}' CHECK (flags <@ reading_flags()),
    device_time     timestamp,
    original_value  double precision,
    original_unit   text CHECK (original_unit = ANY (reading_units())),
    device_user_id  smallint CHECK (device_user_id BETWEEN 0 AND 255),
    continuous      boolean NOT NULL DEFAULT false,
    gateway_id      text NOT NULL,
    batch_id        uuid NOT NULL,
    received_at     timestamptz NOT NULL,
    CONSTRAINT quarantined_readings_once UNIQUE NULLS NOT DISTINCT
        (device_id, kind, measured_at, reason, value, absent_reason)
);
CREATE INDEX quarantined_readings_device ON quarantined_readings (device_id, received_at DESC);

-- Messages that could not be decoded at all, kept byte for byte with the error. A flood
-- of identical bad messages (a gateway resending poison) is one row with a count.
CREATE TABLE dead_letters (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic             text NOT NULL,
    -- From the topic when it parses, so the fleet can see which gateway sends poison.
    gateway_id        text,
    payload           bytea NOT NULL,
    payload_size      integer NOT NULL CHECK (payload_size >= 0),
    payload_sha256    bytea GENERATED ALWAYS AS (sha256(payload)) STORED,
    error             text NOT NULL,
    received_at       timestamptz NOT NULL,
    last_received_at  timestamptz NOT NULL,
    occurrences       integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    CONSTRAINT dead_letters_once UNIQUE (topic, payload_sha256)
);
CREATE INDEX dead_letters_received ON dead_letters (last_received_at DESC);
