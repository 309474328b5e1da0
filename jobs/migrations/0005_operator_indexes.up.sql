-- Indexes for the operator's reads (List, the console) that the workers
-- do not pay for on every claim and heartbeat.
--
-- The ended states by id: a job takes its entry once, when it ends (the
-- claim, the heartbeats and the retries of a running job never touch it),
-- so listing or counting a million succeeded jobs reads only the page.
-- Jobs not yet ended are few or a backlog, and List reads them through the
-- primary key, within ListOpts.Scan. The queue is included so that counting
-- a state's jobs by queue reads the index alone.
--
-- Built concurrently, each in two statements as 0003: a build interrupted
-- half-way leaves an INVALID index of its name, which only this file
-- creates, so it is dropped first and running the file again finishes the
-- job. Workers of the versions before ignore these indexes.

-- seatbelt:ignore concurrently-in-transaction migcheck, this set's runner, runs a file with CONCURRENTLY statement by statement
DROP INDEX CONCURRENTLY IF EXISTS seatbelt_jobs_ended;
-- seatbelt:ignore index-in-migration,concurrently-in-transaction the library's own table: its index ships with the library; migcheck runs the file statement by statement
CREATE INDEX CONCURRENTLY seatbelt_jobs_ended ON seatbelt_jobs (state, id) INCLUDE (queue)
    WHERE state IN ('succeeded', 'failed', 'cancelled', 'cleaned');

-- A job's whole ledger, cleaned entries included: the job page, and the
-- cascade when the retention deletes a job, which the index of live
-- entries cannot serve (without it each deleted job read the whole table).
-- seatbelt:ignore concurrently-in-transaction migcheck, this set's runner, runs a file with CONCURRENTLY statement by statement
DROP INDEX CONCURRENTLY IF EXISTS seatbelt_job_entities_job_all;
-- seatbelt:ignore index-in-migration,concurrently-in-transaction the library's own table: its index ships with the library; migcheck runs the file statement by statement
CREATE INDEX CONCURRENTLY seatbelt_job_entities_job_all ON seatbelt_job_entities (job_id, id);
