DROP TABLE IF EXISTS seatbelt_jobs_leader;
DROP TABLE IF EXISTS seatbelt_job_entities;
DROP TABLE IF EXISTS seatbelt_job_events;
DROP TABLE IF EXISTS seatbelt_jobs;
