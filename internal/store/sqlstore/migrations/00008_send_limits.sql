-- +goose Up
-- Send limits (product.md "Rate limits"). Every send is logged under its limit key — the user,
-- or the recipient of a sign-up — whatever method, channel or client asked, and a send counts
-- its key's sends within each window before it goes. On PostgreSQL a send first upserts its
-- key's row in send_keys: that row lock serializes the sends of one key across nodes (no
-- advisory lock), so the count and the insert hold together. app_sends counts an application's
-- delivered messages (email, SMS) in fixed windows (a minute by default), one conditional upsert
-- a send.
CREATE TABLE send_keys (
    app_id    TEXT NOT NULL,
    limit_key TEXT NOT NULL,
    last_at   BIGINT NOT NULL,
    PRIMARY KEY (app_id, limit_key)
);
-- A send whose delivery failed is withdrawn with its code (DeleteCode): its row names the code,
-- and the app window it was counted in (0: none), so that it stops counting.
CREATE TABLE sends (
    app_id     TEXT NOT NULL,
    limit_key  TEXT NOT NULL,
    sent_at    BIGINT NOT NULL,
    channel    TEXT NOT NULL,
    code_id    TEXT NOT NULL,
    app_window BIGINT NOT NULL
);
CREATE INDEX sends_key ON sends(app_id, limit_key, sent_at);
CREATE INDEX sends_code ON sends(code_id);
CREATE INDEX sends_sent_at ON sends(sent_at);
CREATE TABLE app_sends (
    app_id       TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    sent         INTEGER NOT NULL
);

-- +goose Down
DROP TABLE app_sends;
DROP TABLE sends;
DROP TABLE send_keys;
