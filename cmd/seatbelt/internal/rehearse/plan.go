package rehearse

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
)

// plan is a step made ready to send: its templates compiled with one
// traffic's funcs, its paths parsed, its fallback resolved.
type plan struct {
	*Step
	path, body, when *template.Template
	headers          []namedTemplate
	captures         []capture
	checks           []check
	ackArgs          []*template.Template
	ackEquals        jsonPath
	fallback         int // index of the fallback step, -1 for none
	needsJSON        bool
}

type namedTemplate struct {
	name string
	t    *template.Template
}

type capture struct {
	name string
	path jsonPath
}

type check struct {
	path jsonPath
	want *template.Template
}

// compileSteps compiles every step's templates and paths with funcs. It
// returns every problem, each naming the step and field.
func compileSteps(steps []Step, funcs template.FuncMap) ([]*plan, []error) {
	var problems []error
	plans := make([]*plan, len(steps))
	for i := range steps {
		s := &steps[i]
		where := stepWhere(i, s.Name)
		tmpl := func(field, src string) *template.Template {
			t, err := template.New(field).Option("missingkey=error").Funcs(funcs).Parse(src)
			if err != nil {
				problems = append(problems, fmt.Errorf("%s: %s: %v", where, field, err))
			}
			return t
		}
		path := func(field, src string) jsonPath {
			p, err := parsePath(src)
			if err != nil {
				problems = append(problems, fmt.Errorf("%s: %s: %v", where, field, err))
			}
			return p
		}
		p := &plan{Step: s, path: tmpl("path", s.Path), body: tmpl("body", s.Body), fallback: -1}
		if s.When != "" {
			p.when = tmpl("when", s.When)
		}
		for _, name := range slices.Sorted(maps.Keys(s.Headers)) {
			p.headers = append(p.headers, namedTemplate{name, tmpl("headers: "+name, s.Headers[name])})
		}
		for _, name := range slices.Sorted(maps.Keys(s.Capture)) {
			p.captures = append(p.captures, capture{name, path("capture: "+name, s.Capture[name])})
		}
		for _, at := range slices.Sorted(maps.Keys(s.Check)) {
			p.checks = append(p.checks, check{path("check: "+at, at), tmpl("check: "+at, s.Check[at])})
		}
		if s.Ack != nil {
			for j, a := range s.Ack.Args {
				p.ackArgs = append(p.ackArgs, tmpl(fmt.Sprintf("ack: args: %d", j+1), a))
			}
			if s.Ack.Equals != "" {
				p.ackEquals = path("ack: equals", s.Ack.Equals)
			}
		}
		p.needsJSON = len(p.captures) > 0 || len(p.checks) > 0 || p.ackEquals.set()
		for j := range steps {
			if s.Fallback != "" && steps[j].Name == s.Fallback {
				p.fallback = j
				break
			}
		}
		plans[i] = p
	}
	return plans, problems
}

func render(t *template.Template, vars map[string]string) (string, error) {
	var b strings.Builder
	err := t.Execute(&b, vars)
	return b.String(), err
}

// funcState is the run-wide state behind the templates' funcs: the seq
// counter and the seeded random source, which also picks steps and
// entities.
type funcState struct {
	seq atomic.Int64
	mu  sync.Mutex
	rng *rand.Rand
}

func newFuncState(seed uint64) *funcState {
	return &funcState{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (s *funcState) intN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(n)
}

func (s *funcState) float64() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64()
}

func (s *funcState) funcs() template.FuncMap {
	return template.FuncMap{
		"seq": func() int64 { return s.seq.Add(1) },
		"randInt": func(a, b int64) (int64, error) {
			if b < a || b-a+1 <= 0 {
				return 0, fmt.Errorf("randInt %d %d: want a first bound at most the second, and a range that fits in int64", a, b)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			return a + s.rng.Int64N(b-a+1), nil
		},
		"pick": func(xs ...any) (any, error) {
			if len(xs) == 0 {
				return nil, errors.New("pick: give at least one value")
			}
			return xs[s.intN(len(xs))], nil
		},
		"times": func(n int64) ([]int, error) {
			if n < 0 || n > 100_000 {
				return nil, fmt.Errorf("times %d: want 0..100000", n)
			}
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out, nil
		},
		"int": func(v any) (int64, error) {
			switch x := v.(type) {
			case string:
				n, err := strconv.ParseInt(x, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("int %q: not an integer", x)
				}
				return n, nil
			case int:
				return int64(x), nil
			case int64:
				return x, nil
			}
			return 0, fmt.Errorf("int %v: not an integer", v)
		},
		"add": func(a, b int64) int64 { return a + b },
		"sub": func(a, b int64) int64 { return a - b },
		"json": func(v any) (string, error) {
			s, ok := v.(string)
			if !ok {
				s = fmt.Sprint(v)
			}
			return compactJSON(s), nil
		},
	}
}
