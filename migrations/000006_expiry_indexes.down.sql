DROP INDEX login_failures_at_idx;
DROP INDEX auth_requests_expires_at_idx;
DROP INDEX sessions_expires_at_idx;
