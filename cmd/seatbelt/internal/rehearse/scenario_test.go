package rehearse

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"text/template"
	"time"
)

// specScenario is the scenario format's full example.
const specScenario = `
build: go build -o {out} -ldflags "-X main.buildVersion={version}" ./examples/orders
rate: 200
duration: 60s
steps:
  - name: create
    weight: 35
    method: POST
    path: /orders
    headers: {Idempotency-Key: "rehearse-{{seq}}"}
    body: |
      {"customer": "customer-{{randInt 0 24}}", "items": [{{range $i := times (randInt 1 3)}}{{if $i}},{{end}}{"sku":"sku-{{randInt 0 39}}","qty":{{randInt 1 5}},"price_cents":{{randInt 100 9999}}}{{end}}],
       "status": "{{pick "new" "paid" "shipped" "cancelled"}}"}
    expect: [200, 201]
    creates: order
    capture: {id: $.id, version: $.version, order: $.order}
    ack:
      query: SELECT data FROM eventlog_records WHERE stream_type = 'order' AND stream_id = $1 AND version = $2
      args: ["{{.id}}", "{{.version}}"]
      equals: $.order
  - name: update
    weight: 30
    uses: order
    fallback: create
    method: PUT
    path: /orders/{{.id}}
    headers: {If-Match: "{{.version}}"}
    body: '{"customer": "customer-{{randInt 0 24}}", "items": [{"sku": "sku-1", "qty": 1, "price_cents": 100}]}'
    expect: [200]
    capture: {version: $.version, order: $.order}
    ack: {query: "SELECT data FROM eventlog_records WHERE stream_id = $1 AND version = $2", args: ["{{.id}}", "{{.version}}"], equals: $.order}
  - name: revert
    weight: 10
    uses: order
    when: '{{gt (int .version) 1}}'
    fallback: read
    method: POST
    path: /orders/{{.id}}/revert
    body: '{"to_version": {{randInt 1 (sub (int .version) 1)}}, "reason": "rehearse", "expected_version": {{.version}}}'
    expect: [200]
    capture: {version: $.version, order: $.order}
  - name: read
    weight: 25
    uses: order
    fallback: create
    path: /orders/{{.id}}
    check: {$.version: "{{.version}}", $.order: "{{.order}}"}
  - name: import
    weight: 0.17
    method: POST
    path: /imports
    body: '{"customer": "importer-{{randInt 0 4}}", "orders": {{randInt 100 200}}}'
    expect: [202]
invariants:
  - name: imports that did not finish
    query: SELECT id FROM seatbelt_jobs WHERE kind = 'order-import' AND state <> 'succeeded'
    within: 2m
    cause: job
`

func TestParseScenarioSpecExample(t *testing.T) {
	t.Parallel()
	sc, err := ParseScenario([]byte(specScenario))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Build != `go build -o {out} -ldflags "-X main.buildVersion={version}" ./examples/orders` || sc.Rate != 200 || sc.Duration != Duration(time.Minute) {
		t.Errorf("build, rate, duration = %q, %d, %s", sc.Build, sc.Rate, sc.Duration)
	}
	var names, methods []string
	var weights []float64
	for _, s := range sc.Steps {
		names, methods, weights = append(names, s.Name), append(methods, s.Method), append(weights, s.Weight)
	}
	if want := []string{"create", "update", "revert", "read", "import"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
	if want := []string{"POST", "PUT", "POST", "GET", "POST"}; !reflect.DeepEqual(methods, want) {
		t.Errorf("methods = %v, want %v (read's GET is the default)", methods, want)
	}
	if want := []float64{35, 30, 10, 25, 0.17}; !reflect.DeepEqual(weights, want) {
		t.Errorf("weights = %v, want %v", weights, want)
	}
	create, read := sc.Steps[0], sc.Steps[3]
	if create.Headers["Idempotency-Key"] != "rehearse-{{seq}}" || !reflect.DeepEqual(create.Expect, []int{200, 201}) || create.Creates != "order" {
		t.Errorf("create = %+v", create)
	}
	if want := map[string]string{"id": "$.id", "version": "$.version", "order": "$.order"}; !reflect.DeepEqual(create.Capture, want) {
		t.Errorf("create.Capture = %v, want %v", create.Capture, want)
	}
	if create.Ack == nil || create.Ack.Equals != "$.order" || !reflect.DeepEqual(create.Ack.Args, []string{"{{.id}}", "{{.version}}"}) || !strings.HasPrefix(create.Ack.Query, "SELECT data") {
		t.Errorf("create.Ack = %+v", create.Ack)
	}
	if want := map[string]string{"$.version": "{{.version}}", "$.order": "{{.order}}"}; !reflect.DeepEqual(read.Check, want) || read.Uses != "order" || read.Fallback != "create" {
		t.Errorf("read = %+v", read)
	}
	if sc.Steps[2].When != "{{gt (int .version) 1}}" {
		t.Errorf("revert.When = %q", sc.Steps[2].When)
	}
	want := []Invariant{{Name: "imports that did not finish", Query: "SELECT id FROM seatbelt_jobs WHERE kind = 'order-import' AND state <> 'succeeded'",
		Within: Duration(2 * time.Minute), Cause: "job"}}
	if !reflect.DeepEqual(sc.Invariants, want) {
		t.Errorf("invariants = %+v, want %+v", sc.Invariants, want)
	}
}

func TestParseScenarioDefaults(t *testing.T) {
	t.Parallel()
	sc, err := ParseScenario([]byte("steps: [{name: a, path: /x, method: put}]\ninvariants: [{name: i, query: SELECT 1 WHERE false}]"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Rate != 100 || sc.Duration != Duration(30*time.Second) {
		t.Errorf("rate, duration = %d, %s; want 100, 30s", sc.Rate, sc.Duration)
	}
	if s := sc.Steps[0]; s.Weight != 1 || s.Method != "PUT" || s.Expect != nil {
		t.Errorf("step = %+v; want weight 1, method PUT, no expect", s)
	}
	if inv := sc.Invariants[0]; inv.Cause != "data" || inv.Within != 0 {
		t.Errorf("invariant = %+v; want cause data, within 0", inv)
	}
	sc, err = ParseScenario([]byte("steps: [{name: a, path: /x}]"))
	if err != nil || sc.Steps[0].Method != "GET" {
		t.Errorf("method = %q, %v; want GET", sc.Steps[0].Method, err)
	}
}

func TestParseScenarioProblems(t *testing.T) {
	t.Parallel()
	const ok = "steps: [{name: a, path: /x}]\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"NoSteps", "rate: 10", []string{"steps: none; give at least one step"}},
		{"UnknownTopField", ok + "stepz: []", []string{`unknown field "stepz"; the fields are build, rate, duration, timeout, steps, invariants`}},
		{"UnknownStepField", "steps: [{name: a, path: /x, wieght: 2}]", []string{`step "a": unknown field "wieght"; the fields are name, weight,`}},
		{"UnknownStepFieldNoName", "steps: [{path: /x, wieght: 2}]", []string{`step #1: unknown field "wieght"`}},
		{"UnknownAckField", "steps: [{name: a, path: /x, ack: {qeury: SELECT 1}}]", []string{`step "a": ack: unknown field "qeury"; the fields are query, args, equals`}},
		{"UnknownInvariantField", ok + "invariants: [{name: i, query: SELECT 1, witin: 2m}]", []string{`invariant "i": unknown field "witin"`}},
		{"MissingName", "steps: [{path: /x}]", []string{"step #1: name: missing; give every step a unique name"}},
		{"DuplicateName", "steps: [{name: a, path: /x}, {name: a, path: /y}]", []string{`step "a": name: used by an earlier step too`}},
		{"BadMethod", "steps: [{name: a, path: /x, method: fetch}]", []string{`step "a": method: "FETCH" is not one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT`}},
		{"PathWithoutSlash", "steps: [{name: a, path: x}]", []string{`step "a": path: "x" does not start with /`}},
		{"PathMissing", "steps: [{name: a}]", []string{`step "a": path: "" does not start with /`}},
		{"PathTemplate", "steps: [{name: a, path: '/x/{{nope}}'}]", []string{`step "a": path: template: path:1: function "nope" not defined`}},
		{"HeaderTemplate", "steps: [{name: a, path: /x, headers: {X-K: '{{.a'}}]", []string{`step "a": headers: X-K: template: headers: X-K:1:`}},
		{"HeaderName", "steps: [{name: a, path: /x, headers: {'Bad Header': v}}]", []string{`step "a": headers: "Bad Header" is not a valid header name`}},
		{"BodyTemplate", "steps: [{name: a, path: /x, body: '{{if}}'}]", []string{`step "a": body: template: body:1: missing value for if`}},
		{"WhenTemplate", "steps: [{name: a, path: /x, when: '{{end}}'}]", []string{`step "a": when: template: when:1: unexpected {{end}}`}},
		{"CheckTemplate", "steps: [{name: a, path: /x, check: {$.v: '{{.v'}}]", []string{`step "a": check: $.v: template: check: $.v:1:`}},
		{"AckArgTemplate", "steps: [{name: a, path: /x, ack: {query: SELECT 1, args: [ok, '{{randint 1 2}}']}}]", []string{`step "a": ack: args: 2: template: ack: args: 2:1: function "randint" not defined`}},
		{"WeightZero", "steps: [{name: a, path: /x, weight: 0}]", []string{`step "a": weight: 0 is not above 0; give a weight above 0, or leave it out for 1`}},
		{"WeightNegative", "steps: [{name: a, path: /x, weight: -2}]", []string{`step "a": weight: -2 is not above 0`}},
		{"UsesUnknownPool", "steps: [{name: a, path: /x, creates: order}, {name: b, path: /y, uses: ordr}]", []string{`step "b": uses: no step creates "ordr"; name a pool a step creates (order)`}},
		{"UsesNoPools", "steps: [{name: b, path: /y, uses: order}]", []string{`step "b": uses: no step creates "order"; name a pool a step creates (none does)`}},
		{"FallbackUnknown", "steps: [{name: a, path: /x, fallback: zz}]", []string{`step "a": fallback: no step is named "zz"`}},
		{"FallbackCycle", "steps: [{name: a, path: /x, fallback: b}, {name: b, path: /y, fallback: a}, {name: c, path: /z, fallback: a}]",
			[]string{`step "a": fallback: a -> b -> a is a cycle; end the chain at a step without a fallback`}},
		{"FallbackSelf", "steps: [{name: a, path: /x}, {name: b, path: /y, fallback: b}]", []string{`step "b": fallback: b -> b is a cycle`}},
		{"ExpectLow", "steps: [{name: a, path: /x, expect: [200, 99]}]", []string{`step "a": expect: 99 is not an HTTP status; give statuses in 100..599`}},
		{"ExpectHigh", "steps: [{name: a, path: /x, expect: [600]}]", []string{`step "a": expect: 600 is not an HTTP status`}},
		{"CapturePath", "steps: [{name: a, path: /x, capture: {id: id}}]", []string{`step "a": capture: id: JSON path "id": write $ or $.key.key`}},
		{"CaptureVarName", "steps: [{name: a, path: /x, capture: {order-id: $.id}}]", []string{`step "a": capture: var "order-id" cannot be written {{.order-id}}`}},
		{"CheckPath", "steps: [{name: a, path: /x, check: {$..v: '1'}}]", []string{`step "a": check: $..v: JSON path "$..v": has an empty key`}},
		{"AckEqualsPath", "steps: [{name: a, path: /x, ack: {query: SELECT 1, equals: '$.items[0]'}}]", []string{`step "a": ack: equals: JSON path "$.items[0]": only dot keys are supported`}},
		{"AckQueryMissing", "steps: [{name: a, path: /x, ack: {args: [x]}}]", []string{`step "a": ack: query: missing`}},
		{"InvariantQueryMissing", ok + "invariants: [{name: i}]", []string{`invariant "i": query: missing`}},
		{"InvariantNameMissing", ok + "invariants: [{query: SELECT 1}]", []string{`invariant #1: name: missing`}},
		{"InvariantDuplicate", ok + "invariants: [{name: i, query: SELECT 1}, {name: i, query: SELECT 2}]", []string{`invariant "i": name: used by an earlier invariant too`}},
		{"InvariantCause", ok + "invariants: [{name: i, query: SELECT 1, cause: bug}]", []string{`invariant "i": cause: "bug" is not one of data, endpoint, job, schema, shutdown`}},
		{"InvariantWithinNegative", ok + "invariants: [{name: i, query: SELECT 1, within: -1s}]", []string{`invariant "i": within: -1s is negative`}},
		{"RateZero", ok + "rate: 0", []string{"rate: 0 is outside 1..5000"}},
		{"RateHigh", ok + "rate: 5001", []string{"rate: 5001 is outside 1..5000"}},
		{"DurationShort", ok + "duration: 1s", []string{"duration: 1s is under 6s"}},
		{"TimeoutZero", ok + "timeout: 0s", []string{"timeout: 0s is outside (0, 1m0s]"}},
		{"TimeoutLong", ok + "timeout: 2m", []string{"timeout: 2m0s is outside (0, 1m0s]"}},
		{"DurationText", ok + "duration: fast", []string{`duration "fast": write it with a unit, like 30s or 2m`}},
		{"DurationNumber", ok + "duration: 60", []string{"duration 60: write it as text with a unit"}},
		{"YAMLSyntax", "steps: [", []string{"yaml:"}},
		{"DuplicateKey", ok + "rate: 1\nrate: 2", []string{`"rate"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sc, err := ParseScenario([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseScenario accepted it: %+v", sc)
			}
			if !strings.HasPrefix(err.Error(), "rehearse: scenario: ") {
				t.Errorf("error does not name its package: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not say\n%s", err, w)
				}
			}
			if strings.Count(err.Error(), "is a cycle") > 1 {
				t.Errorf("a cycle is reported more than once: %v", err)
			}
		})
	}
}

func TestParseScenarioReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := ParseScenario([]byte(`
rate: 0
steps:
  - {name: a, path: x}
  - {name: b, path: /y, weight: 0, expect: [1000]}
invariants: [{name: i}]
`))
	if err == nil {
		t.Fatal("no error")
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("%v: not joined with errors.Join", err)
	}
	want := []string{"rate: 0", `step "a": path:`, `step "b": weight:`, `step "b": expect: 1000`, `invariant "i": query: missing`}
	var got []string
	for _, e := range joined.Unwrap() {
		got = append(got, e.Error())
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("problem %d = %q, want it to start with %q", i, got[i], w)
		}
	}
	if !strings.Contains(err.Error(), "5 problems:\n") {
		t.Errorf("error does not count its problems: %v", err)
	}
}

func TestLoadScenario(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("steps: [{name: a, path: /x}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("steps: [{name: a, path: x}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if sc, err := LoadScenario(good); err != nil || len(sc.Steps) != 1 {
		t.Errorf("LoadScenario(good) = %+v, %v", sc, err)
	}
	if _, err := LoadScenario(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `step "a": path:`) {
		t.Errorf("LoadScenario(bad) error = %v; want it to name the file and the problem", err)
	}
	missing := filepath.Join(dir, "missing.yaml")
	if _, err := LoadScenario(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadScenario(missing) error = %v; want it to name the file", err)
	}
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Duration(90 * time.Second))
	if err != nil || string(b) != `"1m30s"` {
		t.Errorf("Marshal = %s, %v; want \"1m30s\"", b, err)
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"250ms"`), &d); err != nil || d != Duration(250*time.Millisecond) {
		t.Errorf("Unmarshal 250ms = %s, %v", d, err)
	}
	if err := json.Unmarshal([]byte(`5`), &d); err == nil {
		t.Error("Unmarshal accepted a bare number")
	}
}

// execute renders src with fs's funcs, as a step's template would be.
func execute(t *testing.T, fs *funcState, src string, vars map[string]string) (string, error) {
	t.Helper()
	tmpl, err := template.New("t").Option("missingkey=error").Funcs(fs.funcs()).Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return render(tmpl, vars)
}

func TestTemplateFuncs(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"v": "42", "one": "1", "two": "2", "s": `a "quoted" <b>`, "bad": "4x"}
	tests := []struct{ src, want string }{
		{"{{seq}} {{seq}} {{seq}}", "1 2 3"},
		{"{{randInt 7 7}}", "7"},
		{"{{range $i := times 3}}{{if $i}},{{end}}{{$i}}{{end}}", "0,1,2"},
		{"{{range times 0}}x{{end}}", ""},
		{"{{int .v}}", "42"},
		{"{{add (int .v) 1}}", "43"},
		{"{{sub (int .v) 50}}", "-8"},
		{"{{gt (int .two) 1}} {{gt (int .one) 1}}", "true false"},
		{"{{json .s}}", `"a \"quoted\" <b>"`},
		{"{{json 5}}", `"5"`},
		{"{{pick .v}}", "42"},
	}
	for _, tt := range tests {
		got, err := execute(t, newFuncState(1), tt.src, vars)
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
	errs := []struct{ src, want string }{
		{"{{randInt 5 1}}", "randInt 5 1: want a first bound at most the second"},
		{"{{pick}}", "pick: give at least one value"},
		{"{{times -1}}", "times -1: want 0..100000"},
		{"{{int .bad}}", `int "4x": not an integer`},
		{"{{int 1.5}}", "int 1.5: not an integer"},
		{"{{.nope}}", `map has no entry for key "nope"`},
	}
	for _, tt := range errs {
		if got, err := execute(t, newFuncState(1), tt.src, vars); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s = %q, %v; want an error saying %q", tt.src, got, err, tt.want)
		}
	}
}

func TestTemplateRandomFuncs(t *testing.T) {
	t.Parallel()
	fs := newFuncState(7)
	seen := map[string]int{}
	for range 300 {
		got, err := execute(t, fs, `{{randInt 3 5}} {{pick "a" "b"}}`, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[got]++
	}
	for _, n := range []string{"3", "4", "5"} {
		for _, p := range []string{"a", "b"} {
			if seen[n+" "+p] == 0 {
				t.Errorf("%s %s never came up in 300 tries: %v", n, p, seen)
			}
		}
	}
	if len(seen) != 6 {
		t.Errorf("values outside randInt 3 5 and pick a b: %v", seen)
	}
	sequence := func(seed uint64) string {
		s, err := execute(t, newFuncState(seed), `{{range times 20}}{{randInt 0 1000}},{{end}}`, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first, again, other := sequence(1), sequence(1), sequence(2)
	if first != again {
		t.Error("the same seed gave different values")
	}
	if first == other {
		t.Error("different seeds gave the same values")
	}
}

func TestJSONPath(t *testing.T) {
	t.Parallel()
	doc, err := decodeJSON([]byte(`{"a": {"b": [10, {"c": "x"}]}, "n": 12345678901234567890, "s": "t", "0": "zero", "z": null}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path  string
		found bool
		text  string // varText of the value
	}{
		{"$", true, `{"0":"zero","a":{"b":[10,{"c":"x"}]},"n":12345678901234567890,"s":"t","z":null}`},
		{"$.a", true, `{"b":[10,{"c":"x"}]}`},
		{"$.a.b.0", true, "10"},
		{"$.a.b.1.c", true, "x"},
		{"$.n", true, "12345678901234567890"},
		{"$.0", true, "zero"},
		{"$.z", true, "null"},
		{"$.a.b.2", false, ""},
		{"$.a.b.-1", false, ""},
		{"$.a.b.x", false, ""},
		{"$.s.x", false, ""},
		{"$.missing", false, ""},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tt.path, err)
			continue
		}
		v, found := p.lookup(doc)
		if found != tt.found || found && varText(v) != tt.text {
			t.Errorf("%s = %s (found %t); want %s (found %t)", tt.path, varText(v), found, tt.text, tt.found)
		}
	}
	for _, bad := range []string{"", "$.", "id", "$id", "$..a", "$.a.", "$[0]", "$.a[0]", "$.*"} {
		if p, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) = %+v, want an error", bad, p)
		}
	}
}

func TestJSONValues(t *testing.T) {
	t.Parallel()
	decoded, err := decodeJSON([]byte(`{"b": [1, 2], "a": 1.0}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		a, b any
		same bool
	}{
		{decoded, json.RawMessage(`{"a":1,"b":[1,2]}`), true},
		{decoded, json.RawMessage(`{"a":1,"b":[2,1]}`), false},
		{decoded, map[string]any{"a": 1, "b": []any{1, 2}, "c": nil}, false},
		{textValue("7"), json.Number("7"), true},
		{textValue("7"), "7", false},
		{textValue(`"7"`), "7", true},
		{textValue("t-1"), "t-1", true},
		{textValue(`{"x": [true]}`), map[string]any{"x": []any{true}}, true},
		{textValue("1 2"), "1 2", true},
		// Past 2^53 a float64 holds neither: they must still differ.
		{json.RawMessage(`{"id":9007199254740993}`), json.RawMessage(`{"id":9007199254740992}`), false},
		{json.RawMessage(`{"id":9007199254740993}`), json.RawMessage(`{"id": 9007199254740993}`), true},
		{json.RawMessage(`[1.50, 2e3]`), json.RawMessage(`[1.5, 2000]`), true},
	}
	for _, tt := range tests {
		if got := sameJSON(tt.a, tt.b); got != tt.same {
			t.Errorf("sameJSON(%#v, %#v) = %t, want %t", tt.a, tt.b, got, tt.same)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"$", "$.a.b.0", "$..", "$.a[0]", "id"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePath(s)
		if err != nil {
			return
		}
		if p.text != s || !p.set() {
			t.Errorf("parsePath(%q) = %+v", s, p)
		}
		if _, found := p.lookup(nil); found != (s == "$") {
			t.Errorf("%q found a value in null", s)
		}
	})
}

func FuzzParseScenario(f *testing.F) {
	f.Add(specScenario)
	f.Add("steps: [{name: a, path: /x, fallback: a}]")
	f.Add("steps: [{name: a, path: '/{{.x'}]")
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScenario([]byte(s))
		if err == nil {
			_ = NewTraffic(sc, "http://127.0.0.1:1", TrafficOpts{}) // must not panic on anything ParseScenario accepts
		}
	})
}
