CREATE TABLE events_copy (id bigint PRIMARY KEY, at timestamptz);
CLUSTER events_copy USING events_copy_pkey;
