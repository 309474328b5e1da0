package tracing

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	cases := []struct{ sql, op, table string }{
		{`SELECT id FROM orders WHERE id = $1`, "SELECT", "orders"},
		{`select * from public.orders o join lines l on l.order_id = o.id`, "SELECT", "public.orders"},
		{`SELECT 1`, "SELECT", ""},
		{`SELECT extract(year FROM now())`, "SELECT", ""},
		{`SELECT * FROM (SELECT * FROM secrets) s`, "SELECT", ""},
		{`  -- leading comment
		   /* block */ INSERT INTO "Orders" (id) VALUES (1)`, "INSERT", `"Orders"`},
		{`UPDATE orders SET note = 'FROM evil' WHERE id = 1`, "UPDATE", "orders"},
		{`DELETE FROM ONLY orders WHERE id = 1`, "DELETE", ""},
		{`WITH recent AS (SELECT * FROM orders WHERE placed > now()) DELETE FROM lines USING recent`, "DELETE", "lines"},
		{`WITH x AS (SELECT 1)`, "OTHER", ""},
		{`COPY orders FROM STDIN`, "COPY", "orders"},
		{`TRUNCATE TABLE audit`, "TRUNCATE", "audit"},
		{`CREATE INDEX CONCURRENTLY orders_idx ON orders (id)`, "CREATE", ""},
		{`begin`, "BEGIN", ""},
		{`stmtcache_4f9c2a`, "OTHER", ""},
		{`SELECT $$ FROM hidden $$ AS x FROM shown`, "SELECT", "shown"},
		{`SELECT 'it''s FROM here' FROM real_table`, "SELECT", "real_table"},
		{`SELECT * FROM 'literal'`, "SELECT", ""},
		{``, "OTHER", ""},
	}
	for _, c := range cases {
		op, table := summarize(c.sql)
		if op != c.op || table != c.table {
			t.Errorf("summarize(%q) = %q, %q; want %q, %q", c.sql, op, table, c.op, c.table)
		}
	}
}

// FuzzSummarize checks the promises span names rely on: the operation comes
// from a fixed set, and the table is an identifier, never a quoted literal.
func FuzzSummarize(f *testing.F) {
	for _, s := range []string{`SELECT a FROM b`, `WITH x AS (SELECT 1) INSERT INTO y VALUES (1)`, `$a$ $a$`, `'`, `"`, `/*`, `--`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		op, table := summarize(sql)
		if op != "OTHER" && !operations[op] {
			t.Fatalf("operation %q is outside the fixed set", op)
		}
		if len(table) > maxIdent || strings.ContainsAny(table, "' ()$\n") {
			t.Fatalf("table %q is not an identifier", table)
		}
	})
}
