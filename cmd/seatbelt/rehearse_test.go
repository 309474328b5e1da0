package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input to rehearse is refused with exit 2 and a message that says
// what to do, before anything is built.
func TestRehearseRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("steps:\n  - name: read\n    path: /orders\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("rate: -3\nsteps:\n  - name: read\n    path: orders\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("steps:\n  - name: read\n    path: /orders\n    wieght: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(dir, "orders")
	if err := os.WriteFile(notExec, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no scenario", []string{"--from", "HEAD~1", "--to", "HEAD"}, []string{"--scenario FILE is required"}},
		{"missing scenario file", []string{"--scenario", filepath.Join(dir, "nope.yaml"), "--from", "HEAD~1", "--to", "HEAD"}, []string{"nope.yaml"}},
		{"bad scenario", []string{"--scenario", bad, "--from", "HEAD~1", "--to", "HEAD"}, []string{"bad.yaml", "rate: -3 is outside", "does not start with /"}},
		{"mistyped field", []string{"--scenario", typo, "--from", "HEAD~1", "--to", "HEAD"}, []string{"typo.yaml", `unknown field "wieght"`, "weight"}},
		{"no builds", []string{"--scenario", good}, []string{"old build: give a binary or a git ref", "new build: give a binary or a git ref"}},
		{"both for one side", []string{"--scenario", good, "--old", notExec, "--from", "HEAD", "--to", "HEAD", "--build", "true"}, []string{"old build: give a binary or a git ref, not both"}},
		{"a ref and no build command", []string{"--scenario", good, "--from", "HEAD~1", "--to", "HEAD"}, []string{"needs a build command"}},
		{"short duration", []string{"--scenario", good, "--old", notExec, "--new", notExec, "--duration", "2s"}, []string{"duration 2s: want at least 6s"}},
		{"empty migrate", []string{"--scenario", good, "--old", notExec, "--new", notExec, "--migrate", " "}, []string{"--migrate is empty"}},
		{"not an executable", []string{"--scenario", good, "--old", notExec, "--new", notExec}, []string{"not an executable file"}},
		{"not a ref", []string{"--scenario", good, "--from", "no-such-ref-xyz", "--to", "HEAD", "--build", "true"}, []string{`"no-such-ref-xyz" is not a commit`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"rehearse"}, tc.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (usage):\n%s", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
		})
	}
}
