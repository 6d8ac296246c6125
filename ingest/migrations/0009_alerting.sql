-- Alerting on top of 0005: monitoring plans (program, schedules, passive periods), the
-- alert lifecycle's own columns, the alert event log, signed webhooks with their delivery
-- log, and the nightly oximetry summary (the alerts issue, #5; ingest/alert_store.py,
-- ingest/watchdog.py, ingest/webhook.py, ingest/oximetry_store.py).

-- A patient's enrolment: the care program whose defaults were copied (ingest/program.py)
-- and the zone their schedules and nights are read in.
CREATE TABLE monitoring_plans (
    patient_id   bigint PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    program      text NOT NULL CHECK (program IN ('copd', 'hypertension', 'heart_failure', 'general')),
    timezone     text NOT NULL DEFAULT 'Europe/Copenhagen' CHECK (timezone <> ''),
    enrolled_by  bigint REFERENCES users (id),
    enrolled_at  timestamptz NOT NULL DEFAULT now()
);

-- When a kind is due: local times of day on ISO weekdays (1 = Monday), each with a window
-- of grace either side (ingest/schedule.py). A blood-pressure schedule names 'systolic'.
CREATE TABLE measurement_schedules (
    patient_id    bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind = ANY (reading_kinds())),
    times_of_day  time[] NOT NULL CHECK (cardinality(times_of_day) > 0),
    weekdays      smallint[] NOT NULL DEFAULT '{1,2,3,4,5,6,7}'
                      CHECK (cardinality(weekdays) > 0 AND weekdays <@ '{1,2,3,4,5,6,7}'),
    grace         interval NOT NULL DEFAULT '2 hours'
                      CHECK (grace > '0'::interval AND grace <= '12 hours'::interval),
    -- Slots closing before this are never alerted (no blue alerts for the past).
    active_from   timestamptz NOT NULL DEFAULT now(),
    updated_by    bigint REFERENCES users (id),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_id, kind)
);

-- Admission, holiday ...: missed measurements due inside are not alerted. Half-open.
CREATE TABLE passive_periods (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id  bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    period      tstzrange NOT NULL CHECK (NOT isempty(period) AND NOT lower_inf(period)),
    reason      text NOT NULL CHECK (reason IN ('admitted', 'holiday', 'other')),
    note        text,
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- A btree: a patient has few periods, and GiST over patient_id would need btree_gist.
CREATE INDEX passive_periods_patient ON passive_periods (patient_id);

-- Severity order for merging (OpenTele: BLUE < YELLOW < RED, reference clinical.md 1.5).
CREATE FUNCTION alert_severity_rank(severity text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN array_position(ARRAY['blue', 'yellow', 'red'], severity);

-- When the alert reached its current severity: escalation counts from here.
ALTER TABLE alerts ADD COLUMN severity_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX alerts_escalation ON alerts (severity_at)
    WHERE status = 'open' AND severity = 'red' AND escalated_at IS NULL;

-- Every lifecycle step of every alert, in commit order for readers that follow it: tx is
-- the writing transaction, so a reader that takes the events of transactions older than
-- its snapshot's xmin misses none and sees none twice (ingest/alert_event.py).
CREATE TABLE alert_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id         bigint NOT NULL REFERENCES alerts (id),
    event            text NOT NULL CHECK (event IN (
        'raised', 'severity_raised', 'escalated', 'acknowledged', 'resolved'
    )),
    at               timestamptz NOT NULL,
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    audience         text NOT NULL CHECK (audience IN ('clinical', 'technical')),
    patient_id       bigint,
    condition        text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('blue', 'yellow', 'red')),
    tx               xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX alert_events_tx ON alert_events (tx);
CREATE INDEX alert_events_alert ON alert_events (alert_id);

-- Where an organization's alert events go: HMAC-SHA256-signed POSTs (ingest/webhook.py).
-- The secret must be readable to sign with, so it is stored as given; grant this table to
-- the services only.
CREATE TABLE webhooks (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    url              text NOT NULL CHECK (url ~ '^https?://'),
    secret           text NOT NULL CHECK (length(secret) >= 16),
    events           text[] NOT NULL DEFAULT '{escalated}' CHECK (cardinality(events) > 0 AND
        events <@ '{raised,severity_raised,escalated,acknowledged,resolved}'),
    audiences        text[] NOT NULL DEFAULT '{clinical}' CHECK (cardinality(audiences) > 0 AND
        audiences <@ '{clinical,technical}'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    disabled_at      timestamptz
);
CREATE INDEX webhooks_organization ON webhooks (organization_id) WHERE disabled_at IS NULL;

-- One row per event and webhook: the outbox the deliverer works through, and the log of
-- what happened (attempts, last answer). The body is fixed when the event is recorded, so
-- every retry sends, and signs, the same bytes.
CREATE TABLE webhook_deliveries (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id        bigint NOT NULL REFERENCES webhooks (id),
    event_id          bigint NOT NULL REFERENCES alert_events (id),
    body              text NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz NOT NULL,
    last_attempt_at   timestamptz,
    last_status_code  integer,
    last_error        text,
    delivered_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id),
    CONSTRAINT webhook_deliveries_delivered CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

-- One night of continuous oximetry per patient (ingest/oximetry.py has the definitions).
CREATE TABLE oximetry_nights (
    patient_id          bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    night               date NOT NULL,  -- the evening's date in the patient's zone
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    recording_seconds   double precision NOT NULL CHECK (recording_seconds >= 0),
    valid_seconds       double precision NOT NULL CHECK (valid_seconds >= 0),
    samples             integer NOT NULL CHECK (samples >= 0),
    flagged_share       double precision NOT NULL CHECK (flagged_share BETWEEN 0 AND 1),
    spo2_mean           double precision,
    spo2_min            double precision,
    t90_seconds         double precision NOT NULL,
    t88_seconds         double precision NOT NULL,
    odi3                double precision,
    odi4                double precision,
    pulse_mean          double precision,
    pulse_min           double precision,
    pulse_max           double precision,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_id, night),
    CONSTRAINT oximetry_nights_order CHECK (starts_at < ends_at)
);
