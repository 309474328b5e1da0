package main

import (
	"strings"
	"testing"
)

// TestMistypedSubcommand: a mistyped word after a command group is a usage
// error (exit 2) that names the nearest command, at every level, and also
// when flags follow it.
func TestMistypedSubcommand(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args             []string
		typo, group, fix string
	}{
		{[]string{"migrate", "verfy"}, "verfy", "seatbelt migrate", "verify"},
		{[]string{"jobs", "lst"}, "lst", "seatbelt jobs", "list"},
		{[]string{"eventlog", "histroy", "order/1"}, "histroy", "seatbelt eventlog", "history"},
		{[]string{"chaos", "pln"}, "pln", "seatbelt chaos", "plan"},
		{[]string{"migrte"}, "migrte", "seatbelt", "migrate"},
		{[]string{"migrate", "verfy", "--dir", "migrations", "--database-url", "postgres://x@127.0.0.1:1/x"}, "verfy", "seatbelt migrate", "verify"},
	} {
		out, code := runCLI(t, c.args...)
		for _, want := range []string{`unknown command "` + c.typo + `" for "` + c.group + `"`, "did you mean " + c.fix + "?", "run '" + c.group + " --help'"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, want, out)
			}
		}
		if code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", c.args, code, out)
		}
	}
}

func TestCommandGroupAloneShowsHelp(t *testing.T) {
	t.Parallel()
	for _, group := range []string{"migrate", "jobs", "eventlog"} {
		out, code := runCLI(t, group)
		if code != 0 || !strings.Contains(out, "Available Commands:") {
			t.Errorf("%s: exit %d\n%s", group, code, out)
		}
	}
}

func TestBadFlagIsUsageError(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"migrate", "verify", "--databse-url", "x"},
		{"jobs", "list", "--stat", "failed"},
		{"migrate", "--bogus"},
	} {
		out, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(out, "unknown flag") || !strings.Contains(out, "--help' for its flags") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
}
