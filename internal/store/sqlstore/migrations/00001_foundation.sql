-- +goose Up
-- Times are Unix milliseconds (BIGINT) and JSON is TEXT, so one schema serves SQLite and PostgreSQL.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE apps (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL UNIQUE,
    redirect_uris TEXT NOT NULL,
    allow_signup  BOOLEAN NOT NULL,
    resources     TEXT NOT NULL,
    settings      TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    admin       BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX clients_app ON clients(app_id);

CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    email            TEXT,
    email_verified   BOOLEAN NOT NULL,
    phone            TEXT,
    phone_verified   BOOLEAN NOT NULL,
    username         TEXT,
    status           TEXT NOT NULL,
    profile          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    status_changed_at BIGINT NOT NULL,
    last_auth        BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users(tenant_id, email);
CREATE UNIQUE INDEX users_phone ON users(tenant_id, phone);
CREATE UNIQUE INDEX users_username ON users(tenant_id, username);
CREATE INDEX users_created ON users(created_at, id);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    private    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT NOT NULL
);

CREATE TABLE outbox (
    id         TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_recipient ON outbox(recipient, created_at);
CREATE INDEX outbox_created ON outbox(created_at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE signing_keys;
DROP TABLE users;
DROP TABLE clients;
DROP TABLE apps;
DROP TABLE tenants;
