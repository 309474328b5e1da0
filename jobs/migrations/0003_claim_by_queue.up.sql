-- Workers claim per queue: the claim index leads with the queue, so that a
-- paused queue's backlog is never scanned by the claims of the others.
-- Built concurrently (the table takes writes meanwhile; migcheck runs the
-- build without lock_timeout, so it waits out old transactions). A build
-- interrupted half-way leaves an INVALID index of this name, which only
-- this file creates: it is dropped first, so running the file again
-- finishes the job.
--
-- The claim index without the queue, seatbelt_jobs_claim, stays in this
-- release: workers of the version before queues, still running during the
-- rollout (or after a rollback), claim through it. A later release drops
-- it.
-- seatbelt:ignore concurrently-in-transaction migcheck, this set's runner, runs a file with CONCURRENTLY statement by statement
DROP INDEX CONCURRENTLY IF EXISTS seatbelt_jobs_claim_queue;
-- seatbelt:ignore index-in-migration,concurrently-in-transaction the library's own table: its index ships with the library; migcheck runs the file statement by statement
CREATE INDEX CONCURRENTLY seatbelt_jobs_claim_queue ON seatbelt_jobs (queue, priority, run_at, id) WHERE state = 'available';
