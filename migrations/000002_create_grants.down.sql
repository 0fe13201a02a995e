DROP INDEX access_tokens_subject_idx;
-- Dropping the column drops its index and foreign key with it.
ALTER TABLE access_tokens DROP COLUMN consent_id;
DROP TABLE refresh_tokens;
DROP TABLE codes;
DROP TABLE consents;
DROP TABLE login_failures;
DROP TABLE auth_requests;
DROP TABLE sessions;
DROP TABLE users;
