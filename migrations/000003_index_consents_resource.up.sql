-- DeleteResource and UpdateResource delete the consents given for the
-- identifier a resource no longer has; this index serves finding them.
--
-- Revoking the access tokens whose audience holds that identifier scans
-- access_tokens instead: a GIN index on audience would serve it, but would
-- be paid on every token issued, for an operation an administrator runs
-- rarely.
CREATE INDEX consents_resource_idx ON consents (resource);
