package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFingerprintCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	saved := filepath.Join(dir, "last.json")
	out, code := runCLI(t, "fingerprint", "-C", "../..", "--out", saved, "./examples/orders")
	if code != 0 || !strings.HasPrefix(out, "sha256:") || !strings.HasSuffix(strings.TrimSpace(out), "  github.com/seatbelt-go/seatbelt/examples/orders") {
		t.Fatalf("exit %d: %q", code, out)
	}
	again, _ := runCLI(t, "fingerprint", "-C", "../..", "./examples/orders")
	if again != out {
		t.Fatalf("two runs differ:\n%s\n%s", out, again)
	}

	// Nothing changed since the saved run: exit 0 even with --exit-code.
	report, code := runCLI(t, "fingerprint", "-C", "../..", "--compare", saved, "--exit-code", "./examples/orders")
	if code != 0 || strings.TrimSpace(report) != "unchanged  github.com/seatbelt-go/seatbelt/examples/orders" {
		t.Fatalf("exit %d: %q", code, report)
	}

	// An earlier run with another digest (as after a code change) and a
	// service that has gone since.
	text := filepath.Join(dir, "old.txt")
	old := "sha256:0000  github.com/seatbelt-go/seatbelt/examples/orders\nsha256:1111  github.com/seatbelt-go/seatbelt/cmd/gone\n"
	if err := os.WriteFile(text, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	report, code = runCLI(t, "fingerprint", "-C", "../..", "--compare", text, "--json", "--exit-code", "./examples/orders")
	var r compareJSON
	if err := json.Unmarshal([]byte(report[:strings.LastIndex(report, "}")+1]), &r); err != nil {
		t.Fatalf("%v: %s", err, report)
	}
	if code != 1 || len(r.Changed) != 1 || r.Changed[0] != "github.com/seatbelt-go/seatbelt/examples/orders" ||
		len(r.Removed) != 1 || len(r.Unchanged) != 0 {
		t.Fatalf("exit %d, report %+v", code, r)
	}

	if out, code := runCLI(t, "fingerprint", "-C", "../..", "./cmd/seatbelt/internal/chaos"); code != 2 || !strings.Contains(out, "no main package") {
		t.Fatalf("library package: exit %d, %q", code, out)
	}
}
