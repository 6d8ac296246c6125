-- Per-patient thresholds with their full history, and alerts (the alerts issue builds on it).
--
-- Thresholds follow OpenTele's NumericThreshold: red low < yellow low < yellow high < red
-- high, any of them absent (reference: clinical.md 1.5), copied from a care-program
-- default and then edited by a permitted clinician. Every version is kept in
-- threshold_history by a trigger, so a reading is judged by the limits in force at its
-- measured_at and no code path can change a limit without leaving a trace. To drop a
-- limit, set it to NULL (an UPDATE, so who and when are recorded).

CREATE TABLE thresholds (
    patient_id   bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind = ANY (reading_kinds())),
    red_low      double precision,
    yellow_low   double precision,
    yellow_high  double precision,
    red_high     double precision,
    -- The care program the values were copied from (NULL once edited by hand is fine too).
    program      text,
    updated_by   bigint REFERENCES users (id),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_id, kind),
    -- Every pair of present limits is strictly ordered; an absent limit compares to nothing.
    CONSTRAINT thresholds_ordered CHECK (
        (red_low < yellow_low) IS NOT FALSE AND (red_low < yellow_high) IS NOT FALSE
        AND (red_low < red_high) IS NOT FALSE AND (yellow_low < yellow_high) IS NOT FALSE
        AND (yellow_low < red_high) IS NOT FALSE AND (yellow_high < red_high) IS NOT FALSE
    )
);

CREATE TABLE threshold_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id   bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind = ANY (reading_kinds())),
    red_low      double precision,
    yellow_low   double precision,
    yellow_high  double precision,
    red_high     double precision,
    program      text,
    changed_by   bigint REFERENCES users (id),
    -- In force from this instant until the next version of the same patient and kind.
    valid_from   timestamptz NOT NULL
);
CREATE INDEX threshold_history_in_force ON threshold_history (patient_id, kind, valid_from DESC);

CREATE FUNCTION thresholds_keep_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- An UPDATE that does not say when counts from now.
    IF TG_OP = 'UPDATE' AND NEW.updated_at = OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    INSERT INTO threshold_history
        (patient_id, kind, red_low, yellow_low, yellow_high, red_high, program, changed_by, valid_from)
    VALUES
        (NEW.patient_id, NEW.kind, NEW.red_low, NEW.yellow_low, NEW.yellow_high, NEW.red_high,
         NEW.program, NEW.updated_by, NEW.updated_at);
    RETURN NEW;
END $$;

CREATE TRIGGER thresholds_keep_history BEFORE INSERT OR UPDATE ON thresholds
    FOR EACH ROW EXECUTE FUNCTION thresholds_keep_history();

-- One row per alert episode. Clinical alerts concern a patient and go to their care teams;
-- technical ones (gateway offline, battery low, implausible data) go to the fleet of the
-- owning organization (ARCHITECTURE.md, "Clinical semantics").
CREATE TABLE alerts (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id       bigint NOT NULL REFERENCES organizations (id),
    audience              text NOT NULL CHECK (audience IN ('clinical', 'technical')),
    -- The rule that raised it, e.g. 'spo2_low', 'missing_measurement', 'gateway_offline'.
    condition             text NOT NULL CHECK (condition <> ''),
    patient_id            bigint REFERENCES patients (id),
    kind                  text CHECK (kind = ANY (reading_kinds())),
    device_id             text REFERENCES devices (id),
    gateway_id            text REFERENCES gateways (id),
    severity              text NOT NULL CHECK (severity IN ('blue', 'yellow', 'red')),
    status                text NOT NULL DEFAULT 'open'
                              CHECK (status IN ('open', 'acknowledged', 'resolved')),
    first_at              timestamptz NOT NULL,
    last_at               timestamptz NOT NULL,
    breach_count          integer NOT NULL DEFAULT 1 CHECK (breach_count >= 1),
    worst_value           double precision,
    -- The limits the rule used, as they were (a threshold_history row as JSON).
    thresholds            jsonb,
    -- Raised from a reading that arrived late (e.g. hours later from a gateway outbox).
    late                  boolean NOT NULL DEFAULT false,
    raised_at             timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    acknowledged_by       bigint REFERENCES users (id),
    acknowledged_at       timestamptz,
    acknowledgement_note  text,
    -- resolved_at without resolved_by: resolved automatically after a period back in range.
    resolved_by           bigint REFERENCES users (id),
    resolved_at           timestamptz,
    escalated_at          timestamptz,
    CONSTRAINT alerts_clinical_has_patient CHECK (audience <> 'clinical' OR patient_id IS NOT NULL),
    CONSTRAINT alerts_time_order CHECK (first_at <= last_at),
    CONSTRAINT alerts_acknowledged CHECK (
        (acknowledged_at IS NULL) = (acknowledged_by IS NULL)
        AND (status <> 'acknowledged' OR acknowledged_at IS NOT NULL)
    ),
    CONSTRAINT alerts_resolved CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
-- One open alert per subject and condition: later breaches update it, and two ingest
-- processes racing to raise the same alert collide here instead of doubling it.
CREATE UNIQUE INDEX alerts_one_open ON alerts (condition, patient_id, device_id, gateway_id)
    NULLS NOT DISTINCT WHERE status <> 'resolved';
CREATE INDEX alerts_open_by_organization ON alerts (organization_id, audience, severity)
    WHERE status <> 'resolved';
CREATE INDEX alerts_patient ON alerts (patient_id, raised_at DESC) WHERE patient_id IS NOT NULL;
