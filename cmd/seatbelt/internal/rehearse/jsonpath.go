package rehearse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// jsonPath is $ or $.a.b.0: dot-separated keys, where a numeric key indexes
// an array. The zero jsonPath is unset.
type jsonPath struct {
	text string
	keys []string
}

func parsePath(s string) (jsonPath, error) {
	if s == "$" {
		return jsonPath{text: s}, nil
	}
	rest, ok := strings.CutPrefix(s, "$.")
	if !ok {
		return jsonPath{}, fmt.Errorf("JSON path %q: write $ or $.key.key, like $.order.items.0", s)
	}
	keys := strings.Split(rest, ".")
	for _, k := range keys {
		if k == "" {
			return jsonPath{}, fmt.Errorf("JSON path %q: has an empty key; write $.key.key, like $.order.items.0", s)
		}
		if strings.ContainsAny(k, "[]*") {
			return jsonPath{}, fmt.Errorf("JSON path %q: only dot keys are supported; write an index as a key, like $.items.0", s)
		}
	}
	return jsonPath{text: s, keys: keys}, nil
}

func (p jsonPath) set() bool { return p.text != "" }

// lookup finds the path's value in a document decoded by decodeJSON.
func (p jsonPath) lookup(doc any) (any, bool) {
	v := doc
	for _, k := range p.keys {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// decodeJSON reads one JSON document, keeping numbers as their text so a
// captured 64-bit id survives.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// varText is how a captured value is stored: a string as itself, anything
// else as compact JSON.
func varText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return compactJSON(v)
}

func compactJSON(v any) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// textValue is rendered text as a JSON value: parsed if it is JSON, else a
// string.
func textValue(s string) any {
	if v, err := decodeJSON([]byte(s)); err == nil {
		return v
	}
	return s
}

// sameJSON compares two values as JSON: numbers by value, objects whatever
// their keys' order.
func sameJSON(a, b any) bool {
	x, err1 := canonicalJSON(a)
	y, err2 := canonicalJSON(b)
	return err1 == nil && err2 == nil && x == y
}

func canonicalJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var plain any
	if err := json.Unmarshal(b, &plain); err != nil {
		return "", err
	}
	b, err = json.Marshal(plain)
	return string(b), err
}
