-- +goose Up
-- Access tokens revoked before they expire (RFC 7009), by jti. A row matters only until the
-- token's own expiry, after which the janitor deletes it. session_id is the revoked token's
-- session ('' for a client token): client tokens are checked against a node-local copy of the
-- rows without one.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at);
-- A user token is checked in the read of its session that every user-token request makes; the
-- revocations are looked up only for a session that has had one.
ALTER TABLE sessions ADD COLUMN revoked_tokens BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE sessions DROP COLUMN revoked_tokens;
DROP TABLE revoked_tokens;
