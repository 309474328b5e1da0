package rehearse

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rollout"
)

// TrafficOpts tunes a [Traffic]. Zero fields mean the defaults.
type TrafficOpts struct {
	// Rate is how many requests a second are sent. Defaults to the
	// scenario's rate.
	Rate int
	// Seed seeds the random choices: steps, entities, and the templates'
	// randInt and pick. The same seed picks the same sequence of steps.
	Seed uint64
	// Workers is how many requests may be in flight at once. Defaults to 64.
	Workers int
}

// The classes of a [Failure].
const (
	// ClassTransport: no answer came (a closed connection, a timeout), or
	// the answer was the rollout proxy's own error, not the service's.
	ClassTransport = "transport"
	// ClassStatus: the service answered a status the step does not expect.
	ClassStatus = "status"
	// ClassCheck: the status was right, but a capture, a check or an ack's
	// value failed, or the step's templates could not render with the
	// entity's values.
	ClassCheck = "check"
)

// Failure is one request that failed.
type Failure struct {
	// Phase is the phase the request started in (see [Traffic.SetPhase]).
	Phase      int
	Start, End time.Time
	Step       string
	Method     string
	Path       string
	// Status is the answer's HTTP status, 0 when none came.
	Status int
	// Class is ClassTransport, ClassStatus or ClassCheck.
	Class string
	// Message says what went wrong: "want 200, got 404", "capture id: $.id
	// missing", or the transport's error.
	Message string
	// Body is the first 200 bytes of the answer's body, if any.
	Body string
	// Replica and Version name the replica the request was routed to and
	// the build it runs, as the proxy said; empty when none was picked.
	Replica, Version string
}

// String reads "15:04:05.000 update PUT /orders/x (new-4): 404 page not found".
func (f Failure) String() string {
	detail := f.Message
	if f.Class == ClassStatus {
		// The answer says more than "want 200, got 404".
		if detail = oneLine(f.Body); detail == "" {
			detail = http.StatusText(f.Status)
		}
	}
	if f.Status != 0 {
		detail = strconv.Itoa(f.Status) + " " + detail
	}
	on := ""
	if f.Replica != "" {
		on = " (" + f.Replica + ")"
	}
	return fmt.Sprintf("%s %s %s %s%s: %s", f.Start.Format("15:04:05.000"), f.Step, f.Method, f.Path, on, detail)
}

// Traffic sends a scenario's steps to a service at a fixed rate, keeps the
// pools of entities the service created, and records every failure and
// every acknowledged write. Its methods are safe to call while it runs.
type Traffic struct {
	base    string
	rate    int
	workers int
	client  *http.Client
	plans   []*plan
	cum     []float64 // cumulative weights, for picking a step
	fs      *funcState
	phase   atomic.Int64

	ok, failed, dropped, skipped atomic.Int64

	mu       sync.Mutex
	pools    map[string][]*entity // the entities free to take, by pool
	phases   []phaseCount
	failures []Failure
	acks     []ackRecord
}

// entity is one thing the service created. A request takes it out of its
// pool and puts it back when done, so no two requests touch it at once and
// its vars are what the service last said.
type entity struct {
	vars map[string]string
}

type phaseCount struct {
	ok, failed, dropped int64
	// slowest holds the phase's slowest answered requests, slowest first:
	// what a phase whose clients all waited was waiting on.
	slowest []Failure
}

// slowKept is how many of a phase's slowest requests are kept.
const slowKept = 3

// ackRecord is an acknowledged write to look up after the run.
type ackRecord struct {
	step, query string
	args        []any
	want        any
	hasWant     bool
}

const (
	defaultWorkers = 64
	bodySample     = 200
)

// NewTraffic prepares traffic for sc against the service at baseURL. sc
// must come from [ParseScenario] or [LoadScenario]; NewTraffic panics on a
// scenario that does not pass their checks.
func NewTraffic(sc *Scenario, baseURL string, o TrafficOpts) *Traffic {
	if o.Rate <= 0 {
		o.Rate = sc.Rate
	}
	if o.Rate <= 0 {
		o.Rate = defaultRate
	}
	if o.Workers <= 0 {
		o.Workers = defaultWorkers
	}
	fs := newFuncState(o.Seed)
	plans, problems := compileSteps(sc.Steps, fs.funcs())
	if len(problems) > 0 || len(plans) == 0 {
		panic(fmt.Sprintf("rehearse: NewTraffic: the scenario was not checked; read it with ParseScenario or LoadScenario (%v)", joinProblems(problems)))
	}
	t := &Traffic{
		base:    strings.TrimSuffix(baseURL, "/"),
		rate:    o.Rate,
		workers: o.Workers,
		client:  &http.Client{Timeout: time.Duration(cmp.Or(sc.Timeout, defaultTimeout)), Transport: &http.Transport{MaxIdleConnsPerHost: o.Workers}},
		plans:   plans,
		fs:      fs,
		pools:   map[string][]*entity{},
	}
	sum := 0.0
	for _, p := range plans {
		sum += p.Weight
		t.cum = append(t.cum, sum)
	}
	return t
}

// Run sends requests at the rate until ctx ends, then waits for those in
// flight. A tick that finds every worker busy is counted as dropped, not
// queued, so the rate never bunches up after a stall. Requests outlive ctx:
// they end on their answer or the scenario's timeout. Run is called
// once.
func (t *Traffic) Run(ctx context.Context) {
	reqCtx := context.WithoutCancel(ctx)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range t.workers {
		wg.Go(func() {
			for i := range jobs {
				t.do(reqCtx, i)
			}
		})
	}
	tick := time.NewTicker(time.Second / time.Duration(t.rate))
	defer tick.Stop()
	// A ticker drops the ticks a busy loop misses; counting what is due
	// since the start instead makes every request of the rate either sent
	// or counted as dropped.
	start, sent := time.Now(), int64(0)
	for {
		select {
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			t.client.CloseIdleConnections()
			return
		case <-tick.C:
		}
		due := int64(time.Since(start) * time.Duration(t.rate) / time.Second)
		for ; sent < due; sent++ {
			select {
			case jobs <- t.pick():
			default:
				t.drop()
			}
		}
	}
}

// SetPhase makes requests started from now on belong to phase i (0-based).
func (t *Traffic) SetPhase(i int) { t.phase.Store(int64(i)) }

// PhaseStats returns the requests of phase i that succeeded and failed.
func (t *Traffic) PhaseStats(i int) (ok, failed int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i < 0 || i >= len(t.phases) {
		return 0, 0
	}
	return t.phases[i].ok, t.phases[i].failed
}

// Failures returns every failure so far, in the order they ended.
func (t *Traffic) Failures() []Failure {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.failures)
}

// Totals counts the requests that succeeded and failed, the ticks dropped
// because every worker was busy, and the picks skipped because their step
// found no entity (or its when was false) and had no fallback.
func (t *Traffic) Totals() (ok, failed, dropped, skipped int64) {
	return t.ok.Load(), t.failed.Load(), t.dropped.Load(), t.skipped.Load()
}

// pick chooses a step by weight.
func (t *Traffic) pick() int {
	r := t.fs.float64() * t.cum[len(t.cum)-1]
	return min(sort.Search(len(t.cum), func(i int) bool { return t.cum[i] > r }), len(t.cum)-1)
}

// do runs step i, or its fallbacks when it cannot run (the checks rule out
// cycles).
func (t *Traffic) do(ctx context.Context, i int) {
	phase := int(t.phase.Load())
	for {
		p := t.plans[i]
		vars := map[string]string{}
		var ent *entity
		if p.Uses != "" {
			if ent = t.take(p.Uses); ent != nil {
				vars = ent.vars
			}
		}
		run := p.Uses == "" || ent != nil
		if run && p.when != nil {
			s, err := render(p.when, vars)
			if err != nil {
				t.put(p.Uses, ent)
				t.fail(Failure{Phase: phase, Start: time.Now(), End: time.Now(), Step: p.Name, Method: p.Method,
					Class: ClassCheck, Message: "when: " + err.Error()})
				return
			}
			run = strings.TrimSpace(s) == "true"
		}
		if run {
			t.send(ctx, phase, p, ent, vars)
			return
		}
		t.put(p.Uses, ent)
		if p.fallback < 0 {
			t.skipped.Add(1)
			return
		}
		i = p.fallback
	}
}

// send makes one request and settles its outcome: the pools, the acks, the
// counts.
func (t *Traffic) send(ctx context.Context, phase int, p *plan, ent *entity, vars map[string]string) {
	f := Failure{Phase: phase, Start: time.Now(), Step: p.Name, Method: p.Method}
	req, err := p.request(ctx, t.base, vars, &f.Path)
	if err != nil {
		// Nothing was sent: the entity is as it was.
		t.put(p.Uses, ent)
		f.End, f.Class, f.Message = f.Start, ClassCheck, err.Error()
		t.fail(f)
		return
	}
	resp, err := t.client.Do(req)
	if err != nil {
		f.End, f.Class, f.Message = time.Now(), ClassTransport, err.Error()
		t.fail(f)
		return
	}
	body, readErr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	f.End, f.Status, f.Body = time.Now(), resp.StatusCode, string(body[:min(len(body), bodySample)])
	f.Replica, f.Version = resp.Header.Get(rollout.ReplicaHeader), resp.Header.Get(rollout.VersionHeader)
	t.timed(f)
	switch {
	case readErr != nil:
		f.Class, f.Message = ClassTransport, readErr.Error()
	case resp.Header.Get(rollout.ProxyErrorHeader) != "":
		f.Class, f.Message = ClassTransport, oneLine(string(body))
	case !p.expects(resp.StatusCode):
		f.Class, f.Message = ClassStatus, fmt.Sprintf("want %s, got %d", p.expected(), resp.StatusCode)
	default:
		next, ack, err := p.answer(body, vars)
		if err != nil {
			f.Class, f.Message = ClassCheck, err.Error()
			break
		}
		t.succeed(phase, p, ent, next, ack)
		return
	}
	// The entity's state is unknown now: it leaves its pool.
	t.fail(f)
}

func (t *Traffic) succeed(phase int, p *plan, ent *entity, next map[string]string, ack *ackRecord) {
	t.ok.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.Creates != "" {
		t.pools[p.Creates] = append(t.pools[p.Creates], &entity{vars: next})
	} else if ent != nil {
		ent.vars = next
	}
	if ent != nil {
		t.pools[p.Uses] = append(t.pools[p.Uses], ent)
	}
	if ack != nil {
		t.acks = append(t.acks, *ack)
	}
	if pc := t.phaseCount(phase); pc != nil {
		pc.ok++
	}
}

func (t *Traffic) fail(f Failure) {
	t.failed.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures = append(t.failures, f)
	if pc := t.phaseCount(f.Phase); pc != nil {
		pc.failed++
	}
}

// timed keeps f among its phase's slowest answered requests.
func (t *Traffic) timed(f Failure) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pc := t.phaseCount(f.Phase)
	if pc == nil {
		return
	}
	took := f.End.Sub(f.Start)
	i := slices.IndexFunc(pc.slowest, func(s Failure) bool { return s.End.Sub(s.Start) < took })
	if i < 0 {
		i = len(pc.slowest)
	}
	if i < slowKept {
		pc.slowest = slices.Insert(pc.slowest, i, f)[:min(len(pc.slowest)+1, slowKept)]
	}
}

// PhaseSlowest returns phase i's slowest answered requests, slowest first,
// each as "15:04:05.000 create POST /orders (new-4): 1.204s".
func (t *Traffic) PhaseSlowest(i int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i < 0 || i >= len(t.phases) {
		return nil
	}
	var out []string
	for _, f := range t.phases[i].slowest {
		f.Class, f.Status, f.Message = "", 0, f.End.Sub(f.Start).Round(time.Millisecond).String()
		out = append(out, f.String())
	}
	return out
}

// drop counts a request the rate made due that no worker was free to send:
// the service answers too slowly for the rate.
func (t *Traffic) drop() {
	t.dropped.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if pc := t.phaseCount(int(t.phase.Load())); pc != nil {
		pc.dropped++
	}
}

// PhaseDropped returns how many requests of phase i were not sent because
// every worker was waiting on an answer.
func (t *Traffic) PhaseDropped(i int) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i < 0 || i >= len(t.phases) {
		return 0
	}
	return t.phases[i].dropped
}

// phaseCount returns phase i's counts, growing the list; t.mu is held.
func (t *Traffic) phaseCount(i int) *phaseCount {
	if i < 0 {
		return nil
	}
	for len(t.phases) <= i {
		t.phases = append(t.phases, phaseCount{})
	}
	return &t.phases[i]
}

// take removes a random free entity from pool, or returns nil.
func (t *Traffic) take(pool string) *entity {
	t.mu.Lock()
	defer t.mu.Unlock()
	free := t.pools[pool]
	if len(free) == 0 {
		return nil
	}
	i := t.fs.intN(len(free))
	e := free[i]
	free[i] = free[len(free)-1]
	t.pools[pool] = free[:len(free)-1]
	return e
}

// put returns an entity to its pool; nil is no entity.
func (t *Traffic) put(pool string, e *entity) {
	if e == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pools[pool] = append(t.pools[pool], e)
}

// request renders the step's path, headers and body; *path gets the
// rendered path for the failure report.
func (p *plan) request(ctx context.Context, base string, vars map[string]string, path *string) (*http.Request, error) {
	var err error
	if *path, err = render(p.path, vars); err != nil {
		*path = p.Path
		return nil, fmt.Errorf("path: %v", err)
	}
	body, err := render(p.body, vars)
	if err != nil {
		return nil, fmt.Errorf("body: %v", err)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, p.Method, base+*path, rd)
	if err != nil {
		return nil, fmt.Errorf("path: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range p.headers {
		v, err := render(h.t, vars)
		if err != nil {
			return nil, fmt.Errorf("headers: %s: %v", h.name, err)
		}
		req.Header.Set(h.name, v)
	}
	return req, nil
}

func (p *plan) expects(status int) bool {
	if len(p.Expect) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(p.Expect, status)
}

func (p *plan) expected() string {
	if len(p.Expect) == 0 {
		return "2xx"
	}
	codes := make([]string, len(p.Expect))
	for i, c := range p.Expect {
		codes[i] = strconv.Itoa(c)
	}
	return strings.Join(codes, " or ")
}

// answer reads a successful answer: the captures merged over vars, the
// checks (rendered with vars as they were before the request), and the
// ack. Every problem is reported.
func (p *plan) answer(body []byte, vars map[string]string) (map[string]string, *ackRecord, error) {
	var doc any
	if p.needsJSON {
		var err error
		if doc, err = decodeJSON(body); err != nil {
			return nil, nil, fmt.Errorf("the answer is not JSON: %v", err)
		}
	}
	var problems []string
	next := maps.Clone(vars)
	for _, c := range p.captures {
		v, ok := c.path.lookup(doc)
		if !ok {
			problems = append(problems, fmt.Sprintf("capture %s: %s missing", c.name, c.path.text))
			continue
		}
		next[c.name] = varText(v)
	}
	for _, c := range p.checks {
		want, err := render(c.want, vars)
		if err != nil {
			problems = append(problems, fmt.Sprintf("check %s: %v", c.path.text, err))
			continue
		}
		got, ok := c.path.lookup(doc)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("check %s: missing, want %s", c.path.text, clip(want, 100)))
		case !sameJSON(got, textValue(want)):
			problems = append(problems, fmt.Sprintf("check %s: want %s, got %s", c.path.text, clip(want, 100), clip(compactJSON(got), 100)))
		}
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	if p.Ack == nil {
		return next, nil, nil
	}
	ack := &ackRecord{step: p.Name, query: p.Ack.Query}
	for i, a := range p.ackArgs {
		s, err := render(a, next)
		if err != nil {
			return nil, nil, fmt.Errorf("ack: args: %d: %v", i+1, err)
		}
		ack.args = append(ack.args, s)
	}
	if p.ackEquals.set() {
		v, ok := p.ackEquals.lookup(doc)
		if !ok {
			return nil, nil, fmt.Errorf("ack: equals %s missing", p.ackEquals.text)
		}
		ack.want, ack.hasWant = v, true
	}
	return next, ack, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
