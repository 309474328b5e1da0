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
	// Numbers are kept as their text, then written the one way: through
	// float64, ids above 2^53 would compare equal when they differ.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var plain any
	if err := dec.Decode(&plain); err != nil {
		return "", err
	}
	b, err = json.Marshal(normalNumbers(plain))
	return string(b), err
}

// normalNumbers writes every number of v one way: an integer as its
// digits, any other number as the shortest float64 text.
func normalNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return x
		}
		if f, err := x.Float64(); err == nil {
			if i := int64(f); float64(i) == f && f > -1<<53 && f < 1<<53 {
				return json.Number(strconv.FormatInt(i, 10))
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalNumbers(e)
		}
	}
	return v
}
