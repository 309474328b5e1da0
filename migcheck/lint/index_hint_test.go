package lint_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck/lint"
)

// In strict mode an index in a migration is a finding whose hint points at
// the indexes folder and the command that builds it.
func TestStrictIndexHintPointsAtTheIndexesFolder(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"0002_idx.up.sql": {Data: []byte("CREATE INDEX CONCURRENTLY orders_customer ON orders (customer_id);")}}
	res, err := lint.Files(fsys, []string{"0002_idx.up.sql"}, &lint.Config{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	var hint string
	for _, f := range res.Findings {
		if f.Rule == lint.IndexInMigration {
			hint = f.Hint
		}
	}
	for _, want := range []string{"indexes/NAME.sql", "seatbelt index apply --dir indexes"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint %q lacks %q; findings %+v", hint, want, res.Findings)
		}
	}
}
