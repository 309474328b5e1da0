-- want: drop-database
DROP DATABASE analytics;
