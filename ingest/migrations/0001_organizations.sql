-- Organizations and the people who work in them.
--
-- Regions, municipalities and practices own care teams, users, patients, devices and
-- gateways (ARCHITECTURE.md, "Security model"). A user has one role; a clinician or nurse
-- sees the patients of the care teams they are a member of, and care teams may mix
-- organizations (a region's clinician and a municipality's nurse caring for one patient).
-- Users are disabled, never deleted: the audit log and the alert history refer to them.

CREATE TABLE organizations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('region', 'municipality', 'practice')),
    name        text NOT NULL CHECK (name <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, name)
);

CREATE TABLE users (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    username         text NOT NULL UNIQUE CHECK (username <> ''),
    display_name     text NOT NULL,
    role             text NOT NULL CHECK (
        role IN ('clinician', 'nurse', 'fleet_manager', 'organization_admin', 'auditor', 'patient')
    ),
    -- NULL for accounts that sign in only through an external identity provider (OIDC).
    password_hash    text,
    disabled_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE care_teams (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    name             text NOT NULL CHECK (name <> ''),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, name)
);

CREATE TABLE care_team_members (
    care_team_id  bigint NOT NULL REFERENCES care_teams (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL REFERENCES users (id),
    added_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (care_team_id, user_id)
);
CREATE INDEX care_team_members_user ON care_team_members (user_id);
