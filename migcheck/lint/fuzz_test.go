package lint_test

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck/lint"
)

// FuzzLint feeds arbitrary bytes to the linter: it must never panic, and
// every finding and error must point inside the file.
func FuzzLint(f *testing.F) {
	_ = fs.WalkDir(os.DirFS("testdata"), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".sql") {
			if b, err := fs.ReadFile(os.DirFS("testdata"), p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	f.Add([]byte("\ufeff-- seatbelt:ignore\r\nSELECT 'é"))
	f.Add([]byte("CREATE INDEX CONCURRENTLY i ON t ((a::text)); /* unterminated"))
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := lint.Files(fstest.MapFS{"f.sql": {Data: src}}, []string{"f.sql"}, &lint.Config{Strict: true})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(string(src), "\n") + 1
		check := func(what string, line, col int) {
			if line < 1 || line > lines || col < 1 || col > len(src)+1 {
				t.Fatalf("%s at %d:%d outside a file of %d lines, %d bytes", what, line, col, lines, len(src))
			}
		}
		for _, e := range res.Errors {
			check(e.Error(), e.Line, e.Col)
		}
		for _, fd := range res.Findings {
			check(fd.String(), fd.Line, fd.Col)
		}
	})
}
