-- seatbelt:ignore drop-database the load-test scratch database, never read by the service
DROP DATABASE IF EXISTS loadtest_scratch;
