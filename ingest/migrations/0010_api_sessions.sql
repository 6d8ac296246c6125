-- What the api keeps besides the clinical data: sign-in sessions, external identities,
-- and the configs it pushed to gateways.

-- Accounts that sign in through a region's identity provider (OIDC) are matched by the
-- provider's issuer and subject, never by a name the token merely claims.
ALTER TABLE users
    ADD COLUMN external_issuer text,
    ADD COLUMN external_subject text,
    ADD CONSTRAINT users_external_pair CHECK ((external_issuer IS NULL) = (external_subject IS NULL)),
    ADD CONSTRAINT users_external_once UNIQUE (external_issuer, external_subject);

-- Refresh tokens are opaque random strings; only their SHA-256 is stored. Each use
-- rotates the token (RFC 9700 section 4.14.2): the used row is marked and a new one
-- issued in the same family, and presenting a used or revoked token revokes its whole
-- family, so a stolen refresh token works at most until its owner's next refresh.
CREATE TABLE refresh_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    family       uuid NOT NULL,
    user_id      bigint NOT NULL REFERENCES users (id),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT refresh_tokens_expiry CHECK (expires_at > issued_at)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- The last config the api published on each gateway's retained config topic.
CREATE TABLE gateway_configs (
    gateway_id  text PRIMARY KEY REFERENCES gateways (id),
    config      jsonb NOT NULL,
    issued_at   timestamptz NOT NULL,
    issued_by   bigint REFERENCES users (id)
);

-- Belt and braces to 0006's trigger: nobody but the owner holds these privileges anyway.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
