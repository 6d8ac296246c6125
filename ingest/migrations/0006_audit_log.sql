-- Who looked at or changed whose data: one append-only record per patient touched.
--
-- Fields after the former Danish security order's minimum (time, user, kind of use, the
-- person concerned) and IHE BALP's PatientRead (reference: reliability_security.md 4.3);
-- queried per patient (a citizen's right to see who looked, GDPR Art. 15 as read by
-- Datatilsynet 2024) and per user (auditors).
--
-- Append-only is enforced by a trigger that rejects UPDATE, DELETE and TRUNCATE for every
-- role, the table owner included; only a superuser or the owner disabling the trigger can
-- get around it, so the application should connect as a role that owns no tables.

CREATE TABLE audit_log (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT now(),
    -- NULL for an unauthenticated attempt or the system itself.
    user_id          bigint REFERENCES users (id),
    role             text,
    organization_id  bigint REFERENCES organizations (id),
    -- No foreign key: the record outlives the patient row it names.
    patient_id       bigint,
    action           text NOT NULL CHECK (action <> ''),
    resource         text NOT NULL CHECK (resource <> ''),
    outcome          text NOT NULL CHECK (outcome IN ('success', 'denied', 'error')),
    detail           jsonb,
    client_address   inet,
    request_id       text
);
CREATE INDEX audit_log_patient ON audit_log (patient_id, at DESC) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_log_user ON audit_log (user_id, at DESC);

CREATE FUNCTION audit_log_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change();
