-- Serve the janitor's search for expired rows (storage.Expiry), one batch
-- at a time, without reading the whole table for each. access_tokens,
-- codes and refresh_tokens have such an index since 000001 and 000002.
--
-- CREATE INDEX blocks writes to its table while it builds: on a database
-- that ran long before this migration, sign-ins and authorization requests
-- wait for the few seconds it takes to index the rows they left behind.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX auth_requests_expires_at_idx ON auth_requests (expires_at);
CREATE INDEX login_failures_at_idx ON login_failures (at);
