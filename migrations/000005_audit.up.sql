-- The audit log: one row per security-relevant event (package audit). Rows
-- are only ever added. id orders them as they were written; time is the
-- writing replica's clock. details is a flat JSON object of strings.
CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    outcome text NOT NULL
        CONSTRAINT audit_events_outcome CHECK (outcome IN ('success', 'failure')),
    request_id text NOT NULL,
    source text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT audit_events_details_object CHECK (jsonb_typeof(details) = 'object')
);

-- The listing filters by one of these and pages by id, newest first; time
-- also serves removing old rows.
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_target ON audit_events (target, id);
CREATE INDEX audit_events_time ON audit_events (time);
