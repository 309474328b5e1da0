package migcheck_test

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// bigSet is 500 migrations: a table, an index or a column each.
func bigSet() migcheck.Set {
	fsys := fstest.MapFS{}
	for i := 1; i <= 500; i++ {
		var sql string
		switch i % 3 {
		case 1:
			sql = fmt.Sprintf("CREATE TABLE t%d (id bigint PRIMARY KEY, name text NOT NULL DEFAULT '', created_at timestamptz NOT NULL DEFAULT now());", i)
		case 2:
			sql = fmt.Sprintf("CREATE INDEX t%d_name ON t%d (name);", i-1, i-1)
		default:
			sql = fmt.Sprintf("ALTER TABLE t%d ADD COLUMN note text;", i-2)
		}
		fsys[fmt.Sprintf("%04d_step_%d.up.sql", i, i)] = &fstest.MapFile{Data: []byte(sql)}
	}
	return migcheck.Set{Name: "app", FS: fsys}
}

// BenchmarkVerify500 is the startup check of a service with 500 applied
// migrations: the figure to beat is 20 ms.
func BenchmarkVerify500(b *testing.B) {
	set := bigSet()
	db := migtest.New(b, set)
	ctx := context.Background()
	b.Run("Migrator", func(b *testing.B) {
		m, err := migcheck.New(db, quietConfig(), set)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			r, err := m.Verify(ctx)
			if err != nil || len(r.Problems) != 0 || r.Sets[0].Applied != 500 {
				b.Fatalf("%+v %v", r, err)
			}
		}
	})
	b.Run("ReadFilesEachTime", func(b *testing.B) {
		for b.Loop() {
			r, err := migcheck.Verify(ctx, db, set)
			if err != nil || len(r.Problems) != 0 {
				b.Fatalf("%+v %v", r, err)
			}
		}
	})
}
