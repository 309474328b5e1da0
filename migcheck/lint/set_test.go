package lint_test

import (
	"errors"
	"os"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/lint"
)

func findingKeys(res *lint.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.Path+" "+f.Rule)
	}
	return out
}

// TestDirApplied lints the same set as the database would see it at each
// version: a table created by a pending migration is new to the pending
// files after it, and applied files are skipped.
func TestDirApplied(t *testing.T) {
	t.Parallel()
	const (
		index   = "0002_orders_customer_index.up.sql create-index-not-concurrently"
		notNull = "0003_orders_currency.up.sql add-column-not-null-without-default"
		timeout = "0003_orders_currency.up.sql missing-lock-timeout"
	)
	all := []string{"0001_create_orders.up.sql", "0002_orders_customer_index.up.sql", "0003_orders_currency.up.sql"}
	for _, tc := range []struct {
		name    string
		applied lint.Applied
		files   []string
		want    []string
	}{
		{"UnknownTakesEarlierFilesAsApplied", lint.Applied{}, all, []string{index, notNull, timeout}},
		{"FreshDatabaseEverythingIsNew", lint.Applied{Known: true, Version: lint.NoVersion}, all, nil},
		{"TableInProduction", lint.Applied{Known: true, Version: 1}, all[1:], []string{index, notNull, timeout}},
		{"OnlyPendingFilesAreLinted", lint.Applied{Known: true, Version: 2}, all[2:], []string{notNull, timeout}},
		{"DirtyVersionIsLintedAgain", lint.Applied{Known: true, Version: 2, Dirty: true}, all[1:], []string{index, notNull, timeout}},
		{"UpToDate", lint.Applied{Known: true, Version: 3}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := lint.Dir(os.DirFS("testdata/sets/orders"), &lint.Config{Applied: tc.applied})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Files, tc.files) {
				t.Errorf("linted %q, want %q", res.Files, tc.files)
			}
			if got := findingKeys(res); !slices.Equal(got, tc.want) {
				t.Errorf("findings %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSetNotNullFollowsChecksAcrossFiles: the CHECK is added and validated
// by migrations already applied; SET NOT NULL in the pending one is safe.
func TestSetNotNullFollowsChecksAcrossFiles(t *testing.T) {
	t.Parallel()
	set := fstest.MapFS{
		"0001_orders.up.sql":   {Data: []byte("CREATE TABLE orders (id bigint PRIMARY KEY, currency text);")},
		"0002_check.up.sql":    {Data: []byte("SET lock_timeout = '5s';\nALTER TABLE orders ADD CONSTRAINT currency_nn CHECK (currency IS NOT NULL AND id > 0) NOT VALID;")},
		"0003_validate.up.sql": {Data: []byte("ALTER TABLE orders VALIDATE CONSTRAINT currency_nn;")},
		"0004_not_null.up.sql": {Data: []byte("SET lock_timeout = '5s';\nALTER TABLE orders ALTER COLUMN currency SET NOT NULL;")},
	}
	for _, applied := range []lint.Applied{{}, {Known: true, Version: 3}} {
		res, err := lint.Dir(set, &lint.Config{Applied: applied})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Clean() {
			t.Errorf("applied %+v: %v", applied, res.Findings)
		}
	}
	delete(set, "0003_validate.up.sql")
	res, err := lint.Dir(set, &lint.Config{Applied: lint.Applied{Known: true, Version: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if got := findingKeys(res); !slices.Equal(got, []string{"0004_not_null.up.sql set-not-null-without-check"}) {
		t.Errorf("without VALIDATE: findings %q", got)
	}
}

func TestDirRenamedNewTableStaysNew(t *testing.T) {
	t.Parallel()
	set := fstest.MapFS{
		"0001_a.up.sql": {Data: []byte("CREATE TABLE draft (id int);\nALTER TABLE draft RENAME TO final;")},
		"0002_b.up.sql": {Data: []byte("CREATE INDEX final_id ON final (id);\nDROP INDEX final_id;\nDROP TABLE final;")},
	}
	res, err := lint.Dir(set, &lint.Config{Applied: lint.Applied{Known: true, Version: lint.NoVersion}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Clean() {
		t.Errorf("findings on a table created by a pending migration: %v", res.Findings)
	}
}

func TestDirBadNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want error
	}{
		{"Typo", fstest.MapFS{"0001_a.up.sq": {}}, migcheck.ErrBadFileName},
		{"NoVersion", fstest.MapFS{"a.up.sql": {}}, migcheck.ErrBadFileName},
		{"NoName", fstest.MapFS{"0001.up.sql": {}}, migcheck.ErrBadFileName},
		{"TooBig", fstest.MapFS{"99999999999999999999_a.up.sql": {}}, migcheck.ErrBadFileName},
		{"Duplicate", fstest.MapFS{"0001_a.up.sql": {}, "1_b.up.sql": {}}, migcheck.ErrDuplicateVersion},
		{"DownWithoutUp", fstest.MapFS{"0001_a.down.sql": {}}, migcheck.ErrBadFileName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := lint.Dir(tc.fsys, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Dot-files, Markdown and folders are not migrations and not errors.
	res, err := lint.Dir(fstest.MapFS{".keep": {}, "README.md": {}, "sub/x.txt": {}, "0001_a.up.sql": {Data: []byte("SELECT 1;")}}, nil)
	if err != nil || !slices.Equal(res.Files, []string{"0001_a.up.sql"}) {
		t.Fatalf("res %v, err %v", res, err)
	}
}
