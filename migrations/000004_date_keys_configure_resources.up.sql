-- A key's state now follows from its dates and the time (package keys), so
-- that no replica has to change it on the hour; the state column goes.
--
-- Until now every key was used from its creation, so that is when it
-- activated. A key marked retired without a date retires now: it stays
-- published for a full retention period from here on.
UPDATE keys SET activated_at = created_at WHERE activated_at IS NULL;
UPDATE keys SET retired_at = now() WHERE state = 'retired' AND retired_at IS NULL;
ALTER TABLE keys ALTER COLUMN activated_at SET NOT NULL;
-- Dropping the column drops its CHECK with it. retired_at stays nullable:
-- NULL while no retirement is scheduled.
ALTER TABLE keys DROP COLUMN state;

-- A resource server's own token settings. encryption_keys is an array of
-- {"jwk": <public JWK object>, "added_at": <RFC 3339 time>}, in the
-- canonical form storage.CanonicalJWK gives; signing_alg '' means Veil's
-- default.
ALTER TABLE resources
    ADD COLUMN encryption_keys jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT resources_encryption_keys_array
        CHECK (jsonb_typeof(encryption_keys) = 'array'),
    ADD COLUMN token_encryption_required boolean NOT NULL DEFAULT false,
    ADD COLUMN signing_alg text NOT NULL DEFAULT '';
