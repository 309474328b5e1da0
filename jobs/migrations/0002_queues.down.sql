DROP TABLE IF EXISTS seatbelt_job_queues;
ALTER TABLE seatbelt_jobs DROP COLUMN IF EXISTS queue;
