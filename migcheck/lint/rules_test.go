package lint_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/migcheck/lint"
)

// want reads the "-- want: rule" comments of a fixture. Each expects a
// finding of that rule on the next line that is neither blank nor another
// want comment.
func want(t *testing.T, content []byte) []string {
	t.Helper()
	var out, pending []string
	sc := bufio.NewScanner(bytes.NewReader(content))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if rule, ok := strings.CutPrefix(text, "-- want:"); ok {
			pending = append(pending, strings.TrimSpace(rule))
			continue
		}
		if text == "" {
			continue
		}
		for _, rule := range pending {
			out = append(out, fmt.Sprintf("%d %s", line, rule))
		}
		pending = nil
	}
	if len(pending) > 0 {
		t.Fatalf("want comment %v is not followed by a line", pending)
	}
	sort.Strings(out)
	return out
}

func got(findings []lint.Finding) []string {
	out := []string{}
	for _, f := range findings {
		out = append(out, fmt.Sprintf("%d %s", f.Line, f.Rule))
	}
	sort.Strings(out)
	return out
}

// TestRuleFixtures lints every file under testdata/rules/<rule>/: each
// bad*.sql must produce exactly the findings its want comments name, and
// each good*.sql (the safe rewrite) must produce none at all.
func TestRuleFixtures(t *testing.T) {
	t.Parallel()
	fsys := os.DirFS("testdata/rules")
	for _, rule := range lint.Rules() {
		t.Run(rule.Name, func(t *testing.T) {
			t.Parallel()
			names, err := fs.Glob(fsys, rule.Name+"/*.sql")
			if err != nil {
				t.Fatal(err)
			}
			var bad, good int
			for _, name := range names {
				switch base := path.Base(name); {
				case strings.HasPrefix(base, "bad"):
					bad++
				case strings.HasPrefix(base, "good"):
					good++
				default:
					t.Fatalf("%s: fixture names start with bad or good", name)
				}
			}
			if bad == 0 || good == 0 {
				t.Fatalf("rule %s needs a bad*.sql that fires and a good*.sql safe rewrite in testdata/rules/%s (has %d bad, %d good)", rule.Name, rule.Name, bad, good)
			}
			cfg := &lint.Config{Strict: rule.Name == lint.IndexInMigration}
			var goods []string
			for _, name := range names {
				if !strings.HasPrefix(path.Base(name), "bad") {
					goods = append(goods, name)
					continue
				}
				content, err := fs.ReadFile(fsys, name)
				if err != nil {
					t.Fatal(err)
				}
				res, err := lint.Files(fsys, []string{name}, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Errors) > 0 {
					t.Fatalf("%s: %v", name, res.Errors[0])
				}
				w := want(t, content)
				if !slices.ContainsFunc(w, func(s string) bool { return strings.HasSuffix(s, " "+rule.Name) }) {
					t.Fatalf("%s: has no want comment for its own rule", name)
				}
				if g := got(res.Findings); !slices.Equal(g, w) {
					t.Errorf("%s: findings (line rule)\n got %q\nwant %q\n%v", name, g, w, res.Findings)
				}
			}
			// The safe rewrite may span migrations (good-1-..., good-2-...),
			// so the good files are linted in order, as one sequence.
			res, err := lint.Files(fsys, goods, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Clean() {
				t.Errorf("safe rewrite %v: findings %v, errors %v", goods, res.Findings, res.Errors)
			}
		})
	}
}

func TestRulesAreDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range lint.Rules() {
		if seen[r.Name] {
			t.Errorf("rule %s listed twice", r.Name)
		}
		seen[r.Name] = true
		if r.Message == "" || r.Hint == "" {
			t.Errorf("rule %s has no message or hint", r.Name)
		}
		if !bytes.Contains(doc, []byte("  - "+r.Name+":")) {
			t.Errorf("doc.go does not list rule %s as \"  - %s: ...\"", r.Name, r.Name)
		}
	}
}
