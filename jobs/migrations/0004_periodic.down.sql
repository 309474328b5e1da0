DROP TABLE IF EXISTS seatbelt_jobs_periodic;
