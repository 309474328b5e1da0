package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// jsonChange is one difference between two versions of a stream's data.
type jsonChange struct {
	// Path is where the change is: "" for the whole value, else object keys
	// from the top, e.g. address.city or tags["a b"].
	Path string
	// Op is "added", "removed" or "changed".
	Op string
	// Old and New are compact JSON; Old is "" when added, New when removed.
	Old, New string
}

// diffJSON lists what changed from a to b. Objects are compared key by key,
// recursing into objects nested in both; anything else (arrays, strings,
// numbers, an object that became an array) is reported whole, before and
// after: an operator reads an array's new value faster than its edit script.
// Equal documents give no changes.
func diffJSON(a, b json.RawMessage) ([]jsonChange, error) {
	va, err := decodeJSON(a)
	if err != nil {
		return nil, fmt.Errorf("the older version: %w", err)
	}
	vb, err := decodeJSON(b)
	if err != nil {
		return nil, fmt.Errorf("the newer version: %w", err)
	}
	var out []jsonChange
	diffValue("", va, vb, &out)
	return out, nil
}

// decodeJSON keeps numbers as written (json.Number), so 12345678901234567890
// is neither rounded nor shown as 1.2345678901234567e+19.
func decodeJSON(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

func diffValue(path string, a, b any, out *[]jsonChange) {
	ma, aObj := a.(map[string]any)
	mb, bObj := b.(map[string]any)
	if !aObj || !bObj {
		if ca, cb := compactJSON(a), compactJSON(b); ca != cb {
			*out = append(*out, jsonChange{Path: path, Op: "changed", Old: ca, New: cb})
		}
		return
	}
	keys := make([]string, 0, len(ma)+len(mb))
	for k := range ma {
		keys = append(keys, k)
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		va, inA := ma[k]
		vb, inB := mb[k]
		p := joinPath(path, k)
		switch {
		case !inA:
			*out = append(*out, jsonChange{Path: p, Op: "added", New: compactJSON(vb)})
		case !inB:
			*out = append(*out, jsonChange{Path: p, Op: "removed", Old: compactJSON(va)})
		default:
			diffValue(p, va, vb, out)
		}
	}
}

// compactJSON writes v back as JSON with object keys sorted, so two equal
// values give equal strings, and without escaping <, > and & (the page's
// template escapes for HTML).
func compactJSON(v any) string {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// joinPath appends key to path: as .key when it reads as a name, else
// quoted in brackets, so a key with dots or spaces stays unambiguous.
func joinPath(path, key string) string {
	if isName(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r == '-' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}
