DROP INDEX CONCURRENTLY IF EXISTS seatbelt_job_entities_job_all;
DROP INDEX CONCURRENTLY IF EXISTS seatbelt_jobs_ended;
