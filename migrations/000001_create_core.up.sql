-- Identifiers that are paged through (clients, resources) use the "C"
-- collation so that they sort byte by byte whatever the database's locale:
-- ListClients and ListResources page with "id > $after" and the in-memory
-- backend compares Go strings the same way.

CREATE TABLE clients (
    id                         text COLLATE "C" PRIMARY KEY,
    kind                       text NOT NULL CHECK (kind IN ('client', 'resource')),
    name                       text NOT NULL DEFAULT '',
    -- NULL for public clients.
    secret_hash                bytea,
    grant_types                text[] NOT NULL DEFAULT '{}',
    redirect_uris              text[] NOT NULL DEFAULT '{}',
    scopes                     text[] NOT NULL DEFAULT '{}',
    token_endpoint_auth_method text NOT NULL CHECK (token_endpoint_auth_method IN
        ('client_secret_basic', 'client_secret_post', 'none')),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    -- A resource server's introspection credentials must never obtain a
    -- token, so they can hold no grant type.
    CONSTRAINT clients_resource_without_grants
        CHECK (kind = 'client' OR cardinality(grant_types) = 0)
);

CREATE TABLE resources (
    id         text COLLATE "C" PRIMARY KEY,
    -- The RFC 8707 resource indicator, used as the aud claim.
    identifier text NOT NULL UNIQUE,
    name       text NOT NULL DEFAULT '',
    scopes     text[] NOT NULL DEFAULT '{}',
    -- Deleting the credentials client deletes the resource; the UNIQUE index
    -- also serves ResourceByClient.
    client_id  text COLLATE "C" NOT NULL UNIQUE
               REFERENCES clients (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Client.Resources, in order. Rows point at the resource's id, not its
-- identifier, so renaming a resource keeps every client's list.
CREATE TABLE client_resources (
    client_id   text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    resource_id text COLLATE "C" NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    PRIMARY KEY (client_id, resource_id),
    -- Serves reading one client's list in order.
    UNIQUE (client_id, position)
);

-- Serves the cascade when a resource is deleted.
CREATE INDEX client_resources_resource_id_idx ON client_resources (resource_id);

CREATE TABLE keys (
    id           text PRIMARY KEY,
    use          text NOT NULL CHECK (use IN ('sig', 'enc', 'hash')),
    algorithm    text NOT NULL,
    state        text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    -- Private key material sealed under the master key; opaque here.
    sealed       bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    -- Set by key rotation, which is not written yet.
    activated_at timestamptz,
    retired_at   timestamptz
);

-- One row per issued access token. The token string itself is never stored,
-- only its SHA-256 (signature).
CREATE TABLE access_tokens (
    signature  text PRIMARY KEY,
    jti        text NOT NULL UNIQUE,
    request_id text NOT NULL,
    -- Deleting a client deletes its token records, so introspection finds
    -- them inactive. A foreign key, unlike an UPDATE in DeleteClient, also
    -- stops a token being recorded for a client deleted meanwhile.
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    subject    text NOT NULL DEFAULT '',
    audience   text[] NOT NULL DEFAULT '{}',
    scopes     text[] NOT NULL DEFAULT '{}',
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked    boolean NOT NULL DEFAULT false
);

-- Serves RevokeAccessTokens.
CREATE INDEX access_tokens_request_id_idx ON access_tokens (request_id);
-- Serves the cascade when a client is deleted.
CREATE INDEX access_tokens_client_id_idx ON access_tokens (client_id);
-- Serves removing expired records, which is not written yet.
CREATE INDEX access_tokens_expires_at_idx ON access_tokens (expires_at);
