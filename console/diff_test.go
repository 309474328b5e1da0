package console

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDiffJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a, b string
		want []jsonChange
	}{
		{
			name: "EqualObjectsInAnotherKeyOrder",
			a:    `{"a": 1, "b": {"c": [1, 2]}}`,
			b:    `{"b": {"c": [1, 2]}, "a": 1}`,
		},
		{
			name: "KeysAddedRemovedAndChangedInKeyOrder",
			a:    `{"status": "new", "total": 10, "note": "call first"}`,
			b:    `{"total": 12, "status": "new", "paid_at": "2026-03-01T04:45:00Z"}`,
			want: []jsonChange{
				{Path: "note", Op: "removed", Old: `"call first"`},
				{Path: "paid_at", Op: "added", New: `"2026-03-01T04:45:00Z"`},
				{Path: "total", Op: "changed", Old: "10", New: "12"},
			},
		},
		{
			name: "NestedObjectsRecurse",
			a:    `{"address": {"city": "Lyon", "zip": "69001", "geo": {"lat": 45.76}}}`,
			b:    `{"address": {"city": "Paris", "geo": {"lat": 48.85, "lon": 2.35}}}`,
			want: []jsonChange{
				{Path: "address.city", Op: "changed", Old: `"Lyon"`, New: `"Paris"`},
				{Path: "address.geo.lat", Op: "changed", Old: "45.76", New: "48.85"},
				{Path: "address.geo.lon", Op: "added", New: "2.35"},
				{Path: "address.zip", Op: "removed", Old: `"69001"`},
			},
		},
		{
			name: "ArraysAreWholeValues",
			a:    `{"tags": ["a", "b"]}`,
			b:    `{"tags": ["a", "c"]}`,
			want: []jsonChange{{Path: "tags", Op: "changed", Old: `["a","b"]`, New: `["a","c"]`}},
		},
		{
			name: "ObjectBecomingAScalarIsWhole",
			a:    `{"owner": {"id": 7}}`,
			b:    `{"owner": 7}`,
			want: []jsonChange{{Path: "owner", Op: "changed", Old: `{"id":7}`, New: "7"}},
		},
		{
			name: "TopLevelNonObjectsAreWhole",
			a:    `{"state": "paid"}`,
			b:    `null`,
			want: []jsonChange{{Path: "", Op: "changed", Old: `{"state":"paid"}`, New: "null"}},
		},
		{
			name: "OddKeysAreQuoted",
			a:    `{"a.b": 1, "x y": {"k": 1}}`,
			b:    `{"a.b": 2, "x y": {"k": 2}}`,
			want: []jsonChange{
				{Path: `["a.b"]`, Op: "changed", Old: "1", New: "2"},
				{Path: `["x y"].k`, Op: "changed", Old: "1", New: "2"},
			},
		},
		{
			name: "BigNumbersKeepTheirDigits",
			a:    `{"id": 12345678901234567890}`,
			b:    `{"id": 12345678901234567891}`,
			want: []jsonChange{{Path: "id", Op: "changed", Old: "12345678901234567890", New: "12345678901234567891"}},
		},
		{
			name: "HTMLIsLeftToTheTemplate",
			a:    `{"note": "a"}`,
			b:    `{"note": "<b>&</b>"}`,
			want: []jsonChange{{Path: "note", Op: "changed", Old: `"a"`, New: `"<b>&</b>"`}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := diffJSON(json.RawMessage(tc.a), json.RawMessage(tc.b))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("diff of %s and %s:\n got %#v\nwant %#v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestDiffJSONRefusesWhatIsNotJSON(t *testing.T) {
	t.Parallel()
	if _, err := diffJSON(json.RawMessage(`{"a":`), json.RawMessage(`{}`)); err == nil {
		t.Error("a truncated older version diffed without an error")
	}
	if _, err := diffJSON(json.RawMessage(`{}`), json.RawMessage(`1 2`)); err == nil {
		t.Error("two values as the newer version diffed without an error")
	}
}
