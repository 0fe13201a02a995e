-- Users, what their browsers hold, and what they granted: the tables of the
-- authorization code flow. Columns that reference a row of 000001 or of this
-- migration use the "C" collation, as the columns they reference do.

CREATE TABLE users (
    id            text COLLATE "C" PRIMARY KEY,
    username      text NOT NULL,
    email         text NOT NULL DEFAULT '',
    -- An argon2id hash in PHC string form; opaque here.
    password_hash text NOT NULL DEFAULT '',
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Usernames are unique without regard to case, and UserByUsername looks them
-- up through this index. lower() follows the database's LC_CTYPE: in a
-- database created with a UTF-8 locale it lowers every letter, as the memory
-- backend does; under the "C" locale it lowers ASCII letters only.
CREATE UNIQUE INDEX users_username_idx ON users (lower(username));

-- A signed-in browser. id is the SHA-256 of the cookie value, never the
-- value itself.
CREATE TABLE sessions (
    id         text PRIMARY KEY,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Serves the cascade when a user is deleted, and disabling a user.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE auth_requests (
    id           text PRIMARY KEY,
    browser_hash text NOT NULL,
    client_id    text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    query        text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

-- Serves the cascade when a client is deleted.
CREATE INDEX auth_requests_client_id_idx ON auth_requests (client_id);

-- One row per failed sign-in. Rows, unlike a counter, need no
-- read-modify-write: replicas that record failures at the same moment each
-- insert their own, and a count over (key, at) is exact for any window.
CREATE TABLE login_failures (
    key text NOT NULL,
    at  timestamptz NOT NULL
);

-- Serves counting one key's failures since a time, and forgetting older ones.
CREATE INDEX login_failures_key_at_idx ON login_failures (key, at);

CREATE TABLE consents (
    id         text COLLATE "C" PRIMARY KEY,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    -- A resource identifier, not a reference to resources: a consent names
    -- the audience the user agreed to.
    resource   text NOT NULL,
    -- Sorted byte by byte, without duplicates.
    scopes     text[] NOT NULL DEFAULT '{}',
    remember   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The arbiter of SaveConsent's ON CONFLICT; it also serves looking up
    -- and listing one user's consents.
    UNIQUE (user_id, client_id, resource)
);

-- Serves the cascade when a client is deleted.
CREATE INDEX consents_client_id_idx ON consents (client_id);

-- Codes, refresh tokens and access tokens reference the consent they were
-- issued under, so that deleting a consent deletes them in the same
-- statement: nothing issued under a withdrawn consent stays usable.

CREATE TABLE codes (
    -- Derived from the code, which is never stored.
    signature  text PRIMARY KEY,
    request_id text NOT NULL,
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    consent_id text COLLATE "C" NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    request    bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    used       boolean NOT NULL DEFAULT false
);

CREATE INDEX codes_request_id_idx ON codes (request_id);
-- Serve the cascades, and disabling a user.
CREATE INDEX codes_client_id_idx ON codes (client_id);
CREATE INDEX codes_user_id_idx ON codes (user_id);
CREATE INDEX codes_consent_id_idx ON codes (consent_id);
-- Serves removing expired codes, which is not written yet.
CREATE INDEX codes_expires_at_idx ON codes (expires_at);

CREATE TABLE refresh_tokens (
    -- Derived from the token, which is never stored.
    signature        text PRIMARY KEY,
    request_id       text NOT NULL,
    access_signature text NOT NULL DEFAULT '',
    client_id        text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id          text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    consent_id       text COLLATE "C" NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    request          bytea NOT NULL,
    expires_at       timestamptz NOT NULL,
    active           boolean NOT NULL DEFAULT true
);

CREATE INDEX refresh_tokens_request_id_idx ON refresh_tokens (request_id);
-- Serve the cascades, and disabling a user.
CREATE INDEX refresh_tokens_client_id_idx ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_consent_id_idx ON refresh_tokens (consent_id);
-- Serves removing expired tokens, which is not written yet.
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

-- NULL for tokens issued without a user (the client credentials grant).
ALTER TABLE access_tokens
    ADD COLUMN consent_id text COLLATE "C" REFERENCES consents (id) ON DELETE CASCADE;

-- Serves the cascade when a consent is deleted.
CREATE INDEX access_tokens_consent_id_idx ON access_tokens (consent_id);
-- Serves revoking a user's tokens when the user is disabled or deleted.
CREATE INDEX access_tokens_subject_idx ON access_tokens (subject);
