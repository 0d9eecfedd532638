-- +goose Up
-- A session whose login requires MFA (the hosted flow's require_mfa) yields no token until a
-- second factor joins it.
ALTER TABLE sessions ADD COLUMN mfa_required BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE sessions DROP COLUMN mfa_required;
