-- Patients, with their delivery identity kept apart from everything clinical.
--
-- A fleet manager delivers and collects devices, so may see a citizen's name and address
-- (patient_identity) but never readings, thresholds or clinical alerts; a grant on
-- patient_identity alone gives exactly that (ARCHITECTURE.md, "Security model").

CREATE TABLE patients (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The organization responsible for the monitoring (owns the devices sent home).
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE patient_identity (
    patient_id    bigint PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    -- The Danish CPR number or another national identifier, when the organization keeps one.
    national_id   text UNIQUE,
    name          text NOT NULL CHECK (name <> ''),
    address       text,
    postal_code   text,
    city          text,
    phone         text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE care_team_patients (
    care_team_id  bigint NOT NULL REFERENCES care_teams (id) ON DELETE CASCADE,
    patient_id    bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    added_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (care_team_id, patient_id)
);
CREATE INDEX care_team_patients_patient ON care_team_patients (patient_id);

-- A citizen who signs in sees their own readings, alerts and who looked at them.
ALTER TABLE users
    ADD COLUMN patient_id bigint UNIQUE REFERENCES patients (id),
    ADD CONSTRAINT users_patient_role CHECK ((role = 'patient') = (patient_id IS NOT NULL));
