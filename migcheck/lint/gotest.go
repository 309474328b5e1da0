package lint

import (
	"io/fs"
)

// TestingT is the part of *testing.T that [Test] uses.
type TestingT interface {
	Helper()
	Errorf(format string, args ...any)
}

// Test lints the migration set at the root of fsys with [Dir] and fails t
// once per finding, per file that does not parse, and for a badly named set,
// each with the position and the safe alternative. Put it in a service's own
// tests so "go test" refuses an unsafe migration:
//
//	func TestMigrationsAreSafe(t *testing.T) {
//		lint.Test(t, migrations.FS, nil)
//	}
func Test(t TestingT, fsys fs.FS, cfg *Config) {
	t.Helper()
	res, err := Dir(fsys, cfg)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	for _, e := range res.Errors {
		t.Errorf("%v", e)
	}
	for _, f := range res.Findings {
		t.Errorf("%s\n\thint: %s\n\tor, if it is safe here: -- seatbelt:ignore %s <why>", f, f.Hint, f.Rule)
	}
}
