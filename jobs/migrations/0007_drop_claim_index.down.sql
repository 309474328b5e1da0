-- seatbelt:ignore concurrently-in-transaction migcheck, this set's runner, runs a file with CONCURRENTLY statement by statement
DROP INDEX CONCURRENTLY IF EXISTS seatbelt_jobs_claim;
-- seatbelt:ignore index-in-migration,concurrently-in-transaction the library's own table: its index ships with the library; migcheck runs the file statement by statement
CREATE INDEX CONCURRENTLY seatbelt_jobs_claim ON seatbelt_jobs (priority, run_at, id) WHERE state = 'available';
