SET lock_timeout = '5s';
-- want: truncate
TRUNCATE orders;
