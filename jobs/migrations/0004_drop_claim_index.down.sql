CREATE INDEX CONCURRENTLY IF NOT EXISTS seatbelt_jobs_claim ON seatbelt_jobs (priority, run_at, id) WHERE state = 'available';
