DROP TABLE customer_summaries;
DROP TABLE order_totals;
