-- +goose Up
-- The janitor deletes expired rows by expiry time; these keep that from scanning whole tables.
CREATE INDEX codes_expires ON codes(expires_at);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);
CREATE INDEX totp_challenges_expires ON totp_challenges(expires_at);

-- +goose Down
DROP INDEX totp_challenges_expires;
DROP INDEX refresh_tokens_expires;
DROP INDEX sessions_expires;
DROP INDEX codes_expires;
