-- +goose Up
-- The tenant names its default application (the one the first start creates) by id, so the app
-- can be named after its deployment and renamed without the next start creating another one.
-- Databases made before keep theirs: the app named "default".
ALTER TABLE tenants ADD COLUMN default_app_id TEXT NOT NULL DEFAULT '';
UPDATE tenants SET default_app_id = COALESCE((SELECT id FROM apps WHERE name = 'default'), '');

-- +goose Down
ALTER TABLE tenants DROP COLUMN default_app_id;
