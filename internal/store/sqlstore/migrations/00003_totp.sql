-- +goose Up
-- TOTP authenticators: registered ones are active at once (activated_at = created_at); paired
-- devices are pending (activated_at = 0) until their first code. The secret is sealed with the
-- encryption key, bound to the row id. last_step is the replay guard: a step is accepted only by
-- the conditional UPDATE ... WHERE last_step < step. Revoked rows stay (revoked_at > 0) for audit.
CREATE TABLE totp_authenticators (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    secret       TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    digits       INTEGER NOT NULL,
    period       INTEGER NOT NULL,
    last_step    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at   BIGINT NOT NULL
);
CREATE INDEX totp_authenticators_user ON totp_authenticators(app_id, user_id, revoked_at);
CREATE INDEX totp_authenticators_user_id ON totp_authenticators(user_id);

-- Transaction-signing challenges, stored as keyed hashes; used_at is 0 while unused. seq orders
-- a user's challenges by insertion (two may share a millisecond), so "the newest" is exact.
CREATE TABLE totp_challenges (
    id             TEXT PRIMARY KEY,
    app_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    challenge_hash TEXT NOT NULL,
    approval_data  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT NOT NULL
);
CREATE INDEX totp_challenges_user ON totp_challenges(app_id, user_id, seq);
CREATE INDEX totp_challenges_user_id ON totp_challenges(user_id);

-- +goose Down
DROP TABLE totp_challenges;
DROP TABLE totp_authenticators;
