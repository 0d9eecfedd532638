-- +goose Up
-- Password credentials (issue 22): one per user, an argon2id PHC string (never the password).
-- temporary marks a password someone else set (force_replace): its first login answers a reset
-- token. expires_at ends a temporary password (0: never). Reset tokens are high-entropy codes
-- of the codes table (method "password_reset"), used up by its conditional UPDATE.
CREATE TABLE passwords (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    temporary  BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE passwords;
