package rehearse

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Scenario is the traffic a rehearsal sends and the checks it runs
// afterwards, read from YAML by [ParseScenario] or [LoadScenario]. After
// parsing, every field holds the value in force: the defaults are filled in.
type Scenario struct {
	// Build is the shell command that builds the service from a checkout:
	// {out} is the binary's path, {version} the ref's short commit. It runs
	// with sh -c in the checkout's root, and is needed only when builds come
	// from refs.
	Build string `json:"build"`
	// Rate is how many requests a second the traffic sends, 1 to 5000.
	// Defaults to 100.
	Rate int `json:"rate"`
	// Duration is how long the whole rehearsal's traffic runs, at least 6
	// seconds (a second a phase). Defaults to 30 seconds.
	Duration Duration `json:"duration"`
	// Timeout is how long a request may wait for its answer before it
	// fails, as an impatient client or a load balancer gives up: a
	// migration that holds a lock the service waits on shows as failures,
	// not as slow successes. Defaults to 5 seconds; at most a minute.
	Timeout Duration `json:"timeout"`
	// Steps are the requests; each tick picks one at random by weight.
	Steps []Step `json:"steps"`
	// Invariants are SQL queries that must return no rows once the traffic
	// has stopped.
	Invariants []Invariant `json:"invariants"`
}

// Step is one kind of request. Path, header values, Body, When, Check's
// values and Ack's args are text/template templates: their data is the vars
// of the entity the step uses ({{.id}}), their funcs seq, randInt, pick,
// times, int, add, sub and json. A var missing is an error, not "".
type Step struct {
	// Name identifies the step in failures and reports; required, unique.
	Name string `json:"name"`
	// Weight sets how often the step is picked: weight / sum of weights.
	// Must be above 0. Defaults to 1.
	Weight float64 `json:"weight"`
	// Method is the HTTP method. Defaults to GET.
	Method string `json:"method"`
	// Path is the request's path and query; it must start with /.
	Path string `json:"path"`
	// Headers are set on the request; the values are templates.
	Headers map[string]string `json:"headers"`
	// Body, when it renders non-empty, is sent with Content-Type
	// application/json.
	Body string `json:"body"`
	// Expect lists the statuses that count as success. Defaults to any 2xx.
	Expect []int `json:"expect"`
	// Creates names the pool that, on success, gains an entity holding the
	// step's vars and captured values. A step that both uses and creates
	// leaves the used entity as it was.
	Creates string `json:"creates"`
	// Uses names a pool: the step takes one of its entities for itself for
	// the request, and that entity's vars are the templates' vars. A failed
	// request drops the entity from the pool, since its state is unknown.
	Uses string `json:"uses"`
	// Fallback names the step to run instead when no entity is free or When
	// is not "true". Without it the request is skipped.
	Fallback string `json:"fallback"`
	// When, if set, must render "true" for the step to run.
	When string `json:"when"`
	// Capture maps a var name to a JSON path in the response. A JSON string
	// is stored as the string, any other value as its compact JSON text. On
	// a step that uses an entity, the captures update its vars.
	Capture map[string]string `json:"capture"`
	// Check maps a JSON path in the response to a template rendered with the
	// vars as they were before the request. The two must be equal as JSON
	// values; the rendered text is parsed as JSON, or taken as a JSON string
	// when it does not parse (so an id made of digits needs {{json .id}}).
	Check map[string]string `json:"check"`
	// Ack, if set, is the write the step's success acknowledges, looked up
	// in the database after the run.
	Ack *Ack `json:"ack"`
}

// Ack is an acknowledged write, checked by [Traffic.CheckAcks].
type Ack struct {
	// Query finds the write; required.
	Query string `json:"query"`
	// Args are the query's parameters, templates rendered after the
	// captures, so they see the new values. They are sent as text.
	Args []string `json:"args"`
	// Equals, if set, is a JSON path in the response: the query's first
	// column must equal that value (as JSON values; a text column is
	// compared as a string, or as JSON when the response value is not a
	// string). Without it the query must return a row.
	Equals string `json:"equals"`
}

// Invariant is a query that must return no rows after the run.
type Invariant struct {
	// Name identifies the invariant in reports; required, unique.
	Name string `json:"name"`
	// Query returns the rows that break the invariant; required.
	Query string `json:"query"`
	// Within is how long the query is retried, every 250 ms, until it
	// returns no rows: for work that finishes after the traffic stops.
	// Defaults to 0: run once.
	Within Duration `json:"within"`
	// Cause is what a violation most likely means: job, schema, endpoint,
	// shutdown or data. Defaults to data.
	Cause string `json:"cause"`
}

// Duration is a time.Duration written as text in the file: "30s", "2m".
type Duration time.Duration

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads text like "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: write it as text with a unit, like 30s or 2m", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: write it with a unit, like 30s or 2m", s)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }

const (
	defaultRate     = 100
	defaultDuration = Duration(30 * time.Second)
	maxRate         = 5000
	minDuration     = Duration(6 * time.Second)
	defaultTimeout  = Duration(5 * time.Second)
	maxTimeout      = Duration(time.Minute)
)

var (
	methods = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}
	causes  = []string{"data", "endpoint", "job", "schema", "shutdown"}
)

// ParseScenario reads a scenario from YAML (JSON is YAML), fills in the
// defaults and checks it. Unknown fields are errors, so a misspelt key does
// not silently become a default; every problem found is reported, joined
// with errors.Join, each naming the step or invariant and the field.
func ParseScenario(b []byte) (*Scenario, error) {
	sc, err := parseScenario(b)
	if err != nil {
		return nil, fmt.Errorf("rehearse: scenario: %w", err)
	}
	return sc, nil
}

// LoadScenario is [ParseScenario] on a file; its errors name the file.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rehearse: scenario: %w", err)
	}
	sc, err := parseScenario(b)
	if err != nil {
		return nil, fmt.Errorf("rehearse: scenario %s: %w", path, err)
	}
	return sc, nil
}

func parseScenario(b []byte) (*Scenario, error) {
	// A loose read first, to name every unknown field with its step and to
	// see which weights were given (weight: 0 is an error, not the default).
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, errors.New(yamlError(err))
	}
	if problems := unknownFields(raw); len(problems) > 0 {
		return nil, joinProblems(problems)
	}
	sc := &Scenario{Rate: defaultRate, Duration: defaultDuration, Timeout: defaultTimeout}
	if err := yaml.UnmarshalStrict(b, sc); err != nil {
		return nil, errors.New(yamlError(err))
	}
	rawSteps, _ := raw["steps"].([]any)
	for i := range sc.Steps {
		if i < len(rawSteps) {
			if m, _ := rawSteps[i].(map[string]any); m != nil {
				if _, given := m["weight"]; given {
					continue
				}
			}
		}
		sc.Steps[i].Weight = 1
	}
	if problems := sc.check(); len(problems) > 0 {
		return nil, joinProblems(problems)
	}
	return sc, nil
}

// yamlError drops the YAML library's layers of wrapping, which talk of a
// JSON conversion the reader never asked for.
func yamlError(err error) string {
	s := err.Error()
	for _, p := range []string{"error converting YAML to JSON: ", "error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

func joinProblems(problems []error) error {
	if len(problems) == 1 {
		return problems[0]
	}
	return fmt.Errorf("%d problems:\n%w", len(problems), errors.Join(problems...))
}

// unknownFields names the keys no field takes, where they are.
func unknownFields(raw map[string]any) []error {
	var problems []error
	check := func(where string, m map[string]any, t reflect.Type) {
		known := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !slices.Contains(known, k) {
				problems = append(problems, fmt.Errorf("%sunknown field %q; the fields are %s", where, k, strings.Join(known, ", ")))
			}
		}
	}
	check("", raw, reflect.TypeFor[Scenario]())
	steps, _ := raw["steps"].([]any)
	for i, s := range steps {
		m, _ := s.(map[string]any)
		if m == nil {
			continue
		}
		name, _ := m["name"].(string)
		where := stepWhere(i, name) + ": "
		check(where, m, reflect.TypeFor[Step]())
		if ack, _ := m["ack"].(map[string]any); ack != nil {
			check(where+"ack: ", ack, reflect.TypeFor[Ack]())
		}
	}
	invs, _ := raw["invariants"].([]any)
	for i, v := range invs {
		if m, _ := v.(map[string]any); m != nil {
			name, _ := m["name"].(string)
			check(invariantWhere(i, name)+": ", m, reflect.TypeFor[Invariant]())
		}
	}
	return problems
}

func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

func stepWhere(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("step #%d", i+1)
	}
	return fmt.Sprintf("step %q", name)
}

func invariantWhere(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("invariant #%d", i+1)
	}
	return fmt.Sprintf("invariant %q", name)
}

// check fills in the defaults and returns every problem.
func (sc *Scenario) check() []error {
	var problems []error
	add := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	if sc.Rate < 1 || sc.Rate > maxRate {
		add("rate: %d is outside 1..%d; give requests per second in that range, or leave it out for %d", sc.Rate, maxRate, defaultRate)
	}
	if sc.Timeout <= 0 || sc.Timeout > maxTimeout {
		add("timeout: %s is outside (0, %s]; give how long a request may wait, or leave it out for %s", sc.Timeout, maxTimeout, defaultTimeout)
	}
	if sc.Duration < minDuration {
		add("duration: %s is under %s; give a longer one, or leave it out for %s", sc.Duration, minDuration, defaultDuration)
	}
	if len(sc.Steps) == 0 {
		add("steps: none; give at least one step")
	}
	index := map[string]int{}
	var pools []string
	for i, s := range sc.Steps {
		if s.Name != "" {
			if _, dup := index[s.Name]; dup {
				add("%s: name: used by an earlier step too; give every step its own name", stepWhere(i, s.Name))
			} else {
				index[s.Name] = i
			}
		}
		if s.Creates != "" && !slices.Contains(pools, s.Creates) {
			pools = append(pools, s.Creates)
		}
	}
	slices.Sort(pools)
	for i := range sc.Steps {
		s := &sc.Steps[i]
		where := stepWhere(i, s.Name)
		if s.Name == "" {
			add("%s: name: missing; give every step a unique name", where)
		}
		if s.Weight <= 0 {
			add("%s: weight: %v is not above 0; give a weight above 0, or leave it out for 1", where, s.Weight)
		}
		s.Method = strings.ToUpper(s.Method)
		if s.Method == "" {
			s.Method = "GET"
		}
		if !slices.Contains(methods, s.Method) {
			add("%s: method: %q is not one of %s", where, s.Method, strings.Join(methods, ", "))
		}
		if !strings.HasPrefix(s.Path, "/") {
			add("%s: path: %q does not start with /; give the path after the service's address, like /orders", where, s.Path)
		}
		for _, code := range s.Expect {
			if code < 100 || code > 599 {
				add("%s: expect: %d is not an HTTP status; give statuses in 100..599", where, code)
			}
		}
		if s.Uses != "" && !slices.Contains(pools, s.Uses) {
			add("%s: uses: no step creates %q; name a pool a step creates (%s)", where, s.Uses, listOrNone(pools))
		}
		if s.Fallback != "" {
			if _, ok := index[s.Fallback]; !ok {
				add("%s: fallback: no step is named %q; name an existing step, or leave it out to skip", where, s.Fallback)
			}
		}
		for name := range s.Headers {
			if !validHeaderName(name) {
				add("%s: headers: %q is not a valid header name", where, name)
			}
		}
		for name := range s.Capture {
			if !validVarName(name) {
				add("%s: capture: var %q cannot be written {{.%s}}; use letters, digits and _, not starting with a digit", where, name, name)
			}
		}
		if s.Ack != nil && strings.TrimSpace(s.Ack.Query) == "" {
			add("%s: ack: query: missing; give the SQL that finds the acknowledged write", where)
		}
	}
	problems = append(problems, fallbackCycles(sc.Steps, index)...)
	_, errs := compileSteps(sc.Steps, newFuncState(0).funcs())
	problems = append(problems, errs...)

	seen := map[string]bool{}
	for i := range sc.Invariants {
		inv := &sc.Invariants[i]
		where := invariantWhere(i, inv.Name)
		switch {
		case inv.Name == "":
			add("%s: name: missing; give every invariant a unique name", where)
		case seen[inv.Name]:
			add("%s: name: used by an earlier invariant too; give every invariant its own name", where)
		}
		seen[inv.Name] = true
		if strings.TrimSpace(inv.Query) == "" {
			add("%s: query: missing; give the SQL that returns the rows breaking the invariant", where)
		}
		if inv.Within < 0 {
			add("%s: within: %s is negative; give how long to retry, or leave it out to run once", where, inv.Within)
		}
		if inv.Cause == "" {
			inv.Cause = "data"
		}
		if !slices.Contains(causes, inv.Cause) {
			add("%s: cause: %q is not one of %s", where, inv.Cause, strings.Join(causes, ", "))
		}
	}
	return problems
}

// fallbackCycles reports each cycle of fallbacks once, at its first step.
func fallbackCycles(steps []Step, index map[string]int) []error {
	var problems []error
	for start := range steps {
		chain := []int{start}
		for i := start; ; {
			next, ok := index[steps[i].Fallback]
			if steps[i].Fallback == "" || !ok {
				break
			}
			if at := slices.Index(chain, next); at >= 0 {
				cycle := chain[at:]
				if slices.Min(cycle) == start && cycle[0] == start {
					names := make([]string, 0, len(cycle)+1)
					for _, j := range cycle {
						names = append(names, steps[j].Name)
					}
					names = append(names, steps[start].Name)
					problems = append(problems, fmt.Errorf("%s: fallback: %s is a cycle; end the chain at a step without a fallback",
						stepWhere(start, steps[start].Name), strings.Join(names, " -> ")))
				}
				break
			}
			chain = append(chain, next)
			i = next
		}
	}
	return problems
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none does"
	}
	return strings.Join(xs, ", ")
}

func validVarName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// validHeaderName accepts the token characters of RFC 9110.
func validHeaderName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return s != ""
}
