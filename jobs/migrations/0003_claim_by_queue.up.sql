-- Workers claim per queue: the claim index leads with the queue, so that a
-- paused queue's backlog is never scanned by the claims of the others.
-- Built concurrently (the table takes writes meanwhile); 0004 drops the
-- index it replaces once this one exists.
-- seatbelt:ignore index-in-migration the library's own table: its index ships with the library, built concurrently
CREATE INDEX CONCURRENTLY IF NOT EXISTS seatbelt_jobs_claim_queue ON seatbelt_jobs (queue, priority, run_at, id) WHERE state = 'available';
