-- +goose Up
-- One-time codes of every login method (OTP, magic link, hosted authorization codes). Only the
-- keyed hash of a code is stored; used_at is 0 while the code is usable.
CREATE TABLE codes (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL,
    user_id      TEXT,
    method       TEXT NOT NULL,
    channel      TEXT NOT NULL,
    identifier   TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT NOT NULL
);
CREATE INDEX codes_identifier ON codes(app_id, method, identifier, created_at);
CREATE INDEX codes_hash ON codes(code_hash);
CREATE INDEX codes_user ON codes(user_id);

-- Failed attempts per identifier and method; locked_until > now means locked.
CREATE TABLE lockouts (
    app_id       TEXT NOT NULL,
    method       TEXT NOT NULL,
    identifier   TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    PRIMARY KEY (app_id, method, identifier)
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    amr        TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Refresh tokens, stored hashed; used_at is set when the token is rotated.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL
);
CREATE INDEX refresh_session ON refresh_tokens(session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE lockouts;
DROP TABLE codes;
