DROP INDEX CONCURRENTLY IF EXISTS seatbelt_jobs_claim_queue;
