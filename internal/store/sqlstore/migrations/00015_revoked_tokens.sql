-- +goose Up
-- Access tokens revoked before they expire (RFC 7009), by jti. A row matters only until the
-- token's own expiry, after which the janitor deletes it. session_id is the revoked token's
-- session ('' for a client token): user tokens are checked in the read of their session, client
-- tokens against a node-local copy of the rows with none.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at);

-- +goose Down
DROP TABLE revoked_tokens;
