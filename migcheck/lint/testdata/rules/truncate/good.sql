DELETE FROM orders WHERE created_at < now() - interval '90 days';
