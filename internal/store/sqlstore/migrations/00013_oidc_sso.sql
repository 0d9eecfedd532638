-- +goose Up
-- The OpenID Connect provider's browser sessions (single sign-on): the row is found by the keyed
-- hash of the browser's cookie, never by the cookie itself. amr and auth_time are the browser's
-- sign-in; each app signed into from it has a session of its own, listed in sso_members, so
-- that logging out ends them all.
CREATE TABLE sso_sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    amr        TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT NOT NULL
);
CREATE INDEX sso_sessions_user ON sso_sessions(user_id);
CREATE TABLE sso_members (
    sso_id     TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (sso_id, session_id)
);
CREATE INDEX sso_members_user ON sso_members(user_id);
-- The scopes a user granted a client (prompt=consent records it; first-party apps show no screen).
CREATE TABLE oidc_grants (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- +goose Down
DROP TABLE oidc_grants;
DROP TABLE sso_members;
DROP TABLE sso_sessions;
