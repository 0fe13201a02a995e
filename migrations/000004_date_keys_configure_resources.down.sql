ALTER TABLE resources
    DROP COLUMN signing_alg,
    DROP COLUMN token_encryption_required,
    DROP COLUMN encryption_keys;

-- The state each key has at the moment of the migration.
ALTER TABLE keys
    ADD COLUMN state text NOT NULL DEFAULT 'active'
        CHECK (state IN ('next', 'active', 'retired'));
UPDATE keys SET state = CASE
    WHEN activated_at > now() THEN 'next'
    WHEN retired_at <= now() THEN 'retired'
    ELSE 'active'
END;
ALTER TABLE keys ALTER COLUMN state DROP DEFAULT;
ALTER TABLE keys ALTER COLUMN activated_at DROP NOT NULL;
