package migcheck_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func TestParseIndexFile(t *testing.T) {
	t.Parallel()
	ix, err := migcheck.ParseIndexFile("orders_customer.sql", []byte("-- who orders what\nCREATE UNIQUE INDEX\n  CONCURRENTLY orders_customer ON public.orders (customer_id, lower(email)) WHERE deleted_at IS NULL;\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ix.Name != "orders_customer" || ix.Table != "public.orders" || !ix.Unique || ix.SHA256 == "" ||
		ix.SQL != "CREATE UNIQUE INDEX CONCURRENTLY orders_customer ON public.orders (customer_id, lower(email)) WHERE deleted_at IS NULL" {
		t.Fatalf("%+v", ix)
	}
	for _, c := range []struct{ file, sql, want string }{
		{"orders_customer.txt", "CREATE INDEX CONCURRENTLY orders_customer ON orders (a);", "does not end in .sql"},
		{"Orders.sql", "CREATE INDEX CONCURRENTLY orders ON orders (a);", "not a lower-case index name"},
		{"i.sql", "", "the file is empty"},
		{"i.sql", "-- nothing\n", "the file is empty"},
		{"i.sql", "CREATE INDEX CONCURRENTLY i ON t (a); CREATE INDEX CONCURRENTLY j ON t (b);", "holds 2 statements"},
		{"i.sql", "CREATE INDEX i ON t (a);", "without CONCURRENTLY blocks writes"},
		{"i.sql", "CREATE INDEX CONCURRENTLY j ON t (a);", `creates index "j" but the file is named i.sql`},
		{"i.sql", `CREATE INDEX CONCURRENTLY "I" ON t (a);`, `creates index "I"`},
		{"i.sql", "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", "remove IF NOT EXISTS"},
		{"i.sql", "ALTER TABLE t ADD COLUMN a int;", "is not CREATE [UNIQUE] INDEX CONCURRENTLY i ON table"},
		{"i.sql", "CREATE INDEX CONCURRENTLY i ON t;", "names no columns"},
		{"i.sql", "CREATE INDEX CONCURRENTLY i ON ONLY t (a);", "ON ONLY"},
		{strings.Repeat("x", 58) + ".sql", "CREATE INDEX CONCURRENTLY " + strings.Repeat("x", 58) + " ON t (a);", "keep it to 57"},
	} {
		_, err := migcheck.ParseIndexFile(c.file, []byte(c.sql))
		if !errors.Is(err, migcheck.ErrBadIndexFile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v; want ErrBadIndexFile saying %q", c.file, c.sql, err, c.want)
		}
	}
	// A byte-order mark is not part of the statement, nor of the checksum.
	if bom, err := migcheck.ParseIndexFile("i.sql", []byte("\ufeffCREATE INDEX CONCURRENTLY i ON t (a);")); err != nil ||
		bom.SQL != "CREATE INDEX CONCURRENTLY i ON t (a)" || bom.SHA256 != migcheck.Checksum([]byte("CREATE INDEX CONCURRENTLY i ON t (a);")) {
		t.Fatalf("%+v %v", bom, err)
	}
	// A quoted name equal to the file's, and CONCURRENTLY in any case.
	if ix, err := migcheck.ParseIndexFile("i.sql", []byte(`create index concurrently "i" on "My Table" using gin (a)`)); err != nil || ix.Table != `"My Table"` {
		t.Fatalf("%+v %v", ix, err)
	}
}

func TestIndexSetReportsEveryBadFile(t *testing.T) {
	t.Parallel()
	set := migcheck.IndexSet{FS: files(
		"a.sql", "CREATE INDEX CONCURRENTLY a ON t (a);",
		"b.sql", "CREATE INDEX b ON t (b);",
		"c.sq", "CREATE INDEX CONCURRENTLY c ON t (c);",
		"README.md", "the indexes",
	)}
	_, err := set.Indexes()
	var fe *migcheck.FileError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "b.sql") || !strings.Contains(err.Error(), "c.sq") || strings.Contains(err.Error(), "a.sql") {
		t.Fatalf("%v; want b.sql and c.sq named", err)
	}
	idx, err := migcheck.IndexSet{FS: files("b.sql", "CREATE INDEX CONCURRENTLY b ON t (b);", "a.sql", "CREATE INDEX CONCURRENTLY a ON t (a);")}.Indexes()
	if err != nil || len(idx) != 2 || idx[0].Name != "a" || idx[1].Name != "b" {
		t.Fatalf("%+v %v", idx, err)
	}
	if _, err := (migcheck.IndexSet{}).Indexes(); !errors.Is(err, migcheck.ErrBadSet) {
		t.Fatalf("nil FS: %v", err)
	}
}

func FuzzParseIndexFile(f *testing.F) {
	f.Add("i.sql", "CREATE INDEX CONCURRENTLY i ON t (a);")
	f.Add("i.sql", "create unique index concurrently \"i\" on s.\"T\" using gin (a) where b /* x */ > 'y;' -- z")
	f.Fuzz(func(t *testing.T, file, sql string) {
		ix, err := migcheck.ParseIndexFile(file, []byte(sql))
		if err != nil {
			if !errors.Is(err, migcheck.ErrBadIndexFile) {
				t.Fatalf("error %v does not wrap ErrBadIndexFile", err)
			}
			return
		}
		if ix.Name+".sql" != file || ix.Table == "" || !strings.Contains(strings.ToUpper(ix.SQL), "CONCURRENTLY") {
			t.Fatalf("accepted %q %q as %+v", file, sql, ix)
		}
	})
}
