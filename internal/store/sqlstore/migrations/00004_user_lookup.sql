-- +goose Up
-- Logins look users up by email, phone or username alone (one tenant per database); the unique
-- indexes lead with tenant_id, so these make those lookups index seeks instead of table scans.
CREATE INDEX users_email_lookup ON users(email);
CREATE INDEX users_phone_lookup ON users(phone);
CREATE INDEX users_username_lookup ON users(username);

-- +goose Down
DROP INDEX users_username_lookup;
DROP INDEX users_phone_lookup;
DROP INDEX users_email_lookup;
