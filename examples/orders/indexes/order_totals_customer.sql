-- A customer's orders and their sum, read without visiting the table:
-- what rebuilding or checking one customer's summary needs. Built by hand
-- after the migrations (seatbelt index apply --dir indexes), never by a
-- migration, so a deploy does not wait for it.
CREATE INDEX CONCURRENTLY order_totals_customer ON order_totals (customer) INCLUDE (total_cents);
