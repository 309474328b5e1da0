package migprom_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migprom"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestCollector(t *testing.T) {
	t.Parallel()
	v1 := migcheck.Set{Name: "app", FS: fstest.MapFS{"0001_a.up.sql": {Data: []byte("CREATE TABLE a (id int);")}}}
	db := migtest.New(t, v1)
	v2 := v1
	v2.FS = fstest.MapFS{
		"0001_a.up.sql": {Data: []byte("CREATE TABLE a (id int);")},
		"0002_b.up.sql": {Data: []byte("CREATE TABLE b (id int);")},
	}
	m, err := migcheck.New(db, nil, v2)
	if err != nil {
		t.Fatal(err)
	}
	c, err := migprom.NewCollector(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP seatbelt_migration_applied_version Migration version applied in the database, -1 for none.
# TYPE seatbelt_migration_applied_version gauge
seatbelt_migration_applied_version{set="app"} 1
# HELP seatbelt_migration_expected_version Newest migration version this binary has.
# TYPE seatbelt_migration_expected_version gauge
seatbelt_migration_expected_version{set="app"} 2
# HELP seatbelt_migration_dirty 1 when the set's last migration failed part-way.
# TYPE seatbelt_migration_dirty gauge
seatbelt_migration_dirty{set="app"} 0
# HELP seatbelt_migration_problems Problems migcheck Verify found, by kind and severity.
# TYPE seatbelt_migration_problems gauge
seatbelt_migration_problems{kind="pending",severity="error"} 1
# HELP seatbelt_migration_verify_up 1 when Verify ran on the last scrape.
# TYPE seatbelt_migration_verify_up gauge
seatbelt_migration_verify_up 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := `
# HELP seatbelt_migration_applied_version Migration version applied in the database, -1 for none.
# TYPE seatbelt_migration_applied_version gauge
seatbelt_migration_applied_version{set="app"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(after), "seatbelt_migration_applied_version"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	down := `
# HELP seatbelt_migration_verify_up 1 when Verify ran on the last scrape.
# TYPE seatbelt_migration_verify_up gauge
seatbelt_migration_verify_up 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(down), "seatbelt_migration_verify_up"); err != nil {
		t.Fatal(err)
	}
}

func TestCollectorIndexes(t *testing.T) {
	t.Parallel()
	app := migcheck.Set{Name: "app", FS: fstest.MapFS{"0001_a.up.sql": {Data: []byte("CREATE TABLE a (id int, n int);")}}}
	db := migtest.New(t, app)
	idx := &migcheck.IndexSet{FS: fstest.MapFS{
		"a_id.sql": {Data: []byte("CREATE INDEX CONCURRENTLY a_id ON a (id);")},
		"a_n.sql":  {Data: []byte("CREATE INDEX CONCURRENTLY a_n ON a (n);")},
	}}
	if _, err := db.Exec(context.Background(), "CREATE INDEX a_id ON a (id)"); err != nil {
		t.Fatal(err)
	}
	m, err := migcheck.New(db, &migcheck.Config{Indexes: idx}, app)
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP seatbelt_index_usable 1 when the declared index is valid, 0 when it is missing or INVALID.
# TYPE seatbelt_index_usable gauge
seatbelt_index_usable{index="a_id"} 1
seatbelt_index_usable{index="a_n"} 0
# HELP seatbelt_migration_problems Problems migcheck Verify found, by kind and severity.
# TYPE seatbelt_migration_problems gauge
seatbelt_migration_problems{kind="index-missing",severity="warning"} 1
`
	c, err := migprom.NewCollector(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "seatbelt_index_usable", "seatbelt_migration_problems"); err != nil {
		t.Fatal(err)
	}
}
