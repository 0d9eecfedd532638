-- +goose Up
-- Recovery codes (product.md): ten per user and application, shown once, stored as keyed hashes;
-- a code is used up by the conditional UPDATE ... WHERE used_at = 0 of the login that presents
-- it. A new set replaces the old one.
CREATE TABLE recovery_codes (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes(app_id, user_id, code_hash);
CREATE INDEX recovery_codes_user_id ON recovery_codes(user_id);

-- +goose Down
DROP TABLE recovery_codes;
