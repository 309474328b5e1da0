package fingerprint

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Status says how a main package's fingerprint moved between two runs.
type Status string

// Statuses reported by [Compare].
const (
	Unchanged Status = "unchanged"
	Changed   Status = "changed"
	Added     Status = "added"   // in the new run only: a new service
	Removed   Status = "removed" // in the old run only
)

// Change is one package's status.
type Change struct {
	Package string `json:"package"`
	Status  Status `json:"status"`
	Old     string `json:"old,omitempty"`
	New     string `json:"new,omitempty"`
}

// Compare reports, for every package in either result, whether its digest
// changed. A monorepo CI builds and deploys the Changed and Added ones.
func Compare(old, cur *Result) []Change {
	prev := map[string]string{}
	for _, f := range old.Fingerprints {
		prev[f.Package] = f.Digest
	}
	var out []Change
	for _, f := range cur.Fingerprints {
		c := Change{Package: f.Package, New: f.Digest, Old: prev[f.Package]}
		switch c.Old {
		case "":
			c.Status = Added
		case f.Digest:
			c.Status = Unchanged
		default:
			c.Status = Changed
		}
		delete(prev, f.Package)
		out = append(out, c)
	}
	for p, d := range prev {
		out = append(out, Change{Package: p, Status: Removed, Old: d})
	}
	slices.SortFunc(out, func(a, b Change) int { return cmp.Compare(a.Package, b.Package) })
	return out
}

// WriteText writes one "DIGEST  PACKAGE" line per main package, the layout
// of sha256sum, which [Read] reads back.
func (r *Result) WriteText(w io.Writer) error {
	for _, f := range r.Fingerprints {
		if _, err := fmt.Fprintf(w, "%s  %s\n", f.Digest, f.Package); err != nil {
			return err
		}
	}
	return nil
}

// Read reads a result saved as JSON (the --json output) or as text (the
// default output). A text file has no build settings, only digests, which
// is all [Compare] needs.
func Read(r io.Reader) (*Result, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var res Result
		if err := json.Unmarshal(trimmed, &res); err != nil {
			return nil, fmt.Errorf("fingerprint: reading saved fingerprints: %w", err)
		}
		return &res, nil
	}
	res := &Result{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		digest, pkg, ok := strings.Cut(line, "  ")
		if !ok || !strings.HasPrefix(digest, "sha256:") || strings.TrimSpace(pkg) == "" {
			return nil, fmt.Errorf("fingerprint: reading saved fingerprints: line %d: want \"sha256:HEX  PACKAGE\", got %q", n, line)
		}
		res.Fingerprints = append(res.Fingerprints, Fingerprint{Package: strings.TrimSpace(pkg), Digest: digest})
	}
	return res, sc.Err()
}
