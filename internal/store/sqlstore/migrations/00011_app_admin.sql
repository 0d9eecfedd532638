-- +goose Up
-- The applications API (issue 19): an application's description and last change; a client's
-- name, description and last change, and the keyed hash of its previous secret with the time
-- that secret stops working (a rotation's grace period; 0 when there is none).
ALTER TABLE apps ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN prev_secret_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN prev_secret_expires_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_app ON sessions(app_id);

-- +goose Down
DROP INDEX sessions_app;
ALTER TABLE clients DROP COLUMN prev_secret_expires_at;
ALTER TABLE clients DROP COLUMN prev_secret_hash;
ALTER TABLE clients DROP COLUMN updated_at;
ALTER TABLE clients DROP COLUMN description;
ALTER TABLE clients DROP COLUMN name;
ALTER TABLE apps DROP COLUMN updated_at;
ALTER TABLE apps DROP COLUMN description;
