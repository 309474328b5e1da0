package jobs

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseTable: a name that parses has no empty part, comes back the
// same from its parts written fully quoted, and without double quotes is
// split at every dot.
func FuzzParseTable(f *testing.F) {
	for _, s := range []string{"invoices", "billing.invoices", `"my.table"`, `billing."audit.2024"`, `"a""b".c`,
		`Odd Schema.Weird "Table"`, "", ".", `"`, `""`, `"a"b`, `a."b`, `"."."."`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := parseTable(s)
		if err != nil {
			return
		}
		quoted := make([]string, len(name))
		for i, p := range name {
			if p == "" {
				t.Fatalf("%q: empty part in %q", s, name)
			}
			quoted[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
		}
		again, err := parseTable(strings.Join(quoted, "."))
		if err != nil || !slices.Equal(again, name) {
			t.Fatalf("%q parsed as %q, quoted back as %q: %q %v", s, name, strings.Join(quoted, "."), again, err)
		}
		if !strings.HasPrefix(s, `"`) && !strings.Contains(s, `."`) && !slices.Equal(name, strings.Split(s, ".")) {
			t.Fatalf("%q parsed as %q, not split at its dots", s, name)
		}
	})
}
