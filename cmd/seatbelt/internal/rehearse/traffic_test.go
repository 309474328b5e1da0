package rehearse

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rollout"
)

// thingAPI is a tiny service of versioned entities: things are created,
// updated with If-Match and read. A few routes misbehave on purpose, and a
// request for a thing another request is using gets 409, so concurrent use
// of one entity shows.
type thingAPI struct {
	mu      sync.Mutex
	things  map[string]*thing
	busy    map[string]bool
	hits    map[string]int // by route pattern
	headers []http.Header  // of every request, in order
}

type thing struct {
	version int64
	data    json.RawMessage
}

type thingAnswer struct {
	ID      string          `json:"id"`
	Version int64           `json:"version"`
	Thing   json.RawMessage `json:"thing"`
}

func newThingAPI(t *testing.T) (*thingAPI, *httptest.Server) {
	a := &thingAPI{things: map[string]*thing{}, busy: map[string]bool{}, hits: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /things", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || !json.Valid(body) {
			http.Error(w, "want a JSON body", http.StatusUnsupportedMediaType)
			return
		}
		a.mu.Lock()
		id := fmt.Sprintf("t-%d", len(a.things)+1)
		a.things[id] = &thing{version: 1, data: body}
		a.mu.Unlock()
		writeJSON(w, http.StatusCreated, thingAnswer{id, 1, body})
	})
	mux.HandleFunc("PUT /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		body, _ := io.ReadAll(r.Body)
		if !a.claim(id) {
			http.Error(w, "another request is using "+id, http.StatusConflict)
			return
		}
		defer a.release(id)
		time.Sleep(time.Millisecond) // widens the window in which a second user would show
		a.mu.Lock()
		defer a.mu.Unlock()
		th := a.things[id]
		switch {
		case th == nil:
			http.NotFound(w, r)
		case r.Header.Get("If-Match") != strconv.FormatInt(th.version, 10):
			http.Error(w, "version conflict", http.StatusConflict)
		default:
			th.version++
			th.data = body
			writeJSON(w, http.StatusOK, thingAnswer{id, th.version, th.data})
		}
	})
	get := func(lag int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			a.mu.Lock()
			defer a.mu.Unlock()
			id := r.PathValue("id")
			th := a.things[id]
			if th == nil {
				http.NotFound(w, r)
				return
			}
			writeJSON(w, http.StatusOK, thingAnswer{id, th.version - lag, th.data})
		}
	}
	mux.HandleFunc("GET /things/{id}", get(0))
	mux.HandleFunc("GET /stale/{id}", get(1)) // a read that missed the last write
	mux.HandleFunc("POST /teapot", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "short and stout", http.StatusTeapot)
	})
	mux.HandleFunc("POST /nofield", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"version": 1})
	})
	mux.HandleFunc("GET /hangup", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		_ = conn.Close()
	})
	mux.HandleFunc("POST /proxied", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(rollout.ProxyErrorHeader, "1")
		http.Error(w, "rollout proxy: dial tcp 127.0.0.1:1: connect: connection refused", http.StatusBadGateway)
	})
	mux.HandleFunc("PUT /things/{id}/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		a.mu.Lock()
		a.hits[pattern]++
		a.headers = append(a.headers, r.Header.Clone())
		a.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return a, srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *thingAPI) claim(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.busy[id] {
		return false
	}
	a.busy[id] = true
	return true
}

func (a *thingAPI) release(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.busy, id)
}

func (a *thingAPI) hit(pattern string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[pattern]
}

const thingScenario = `
steps:
  - name: create
    method: POST
    path: /things
    headers: {Idempotency-Key: "key-{{seq}}"}
    body: '{"n": {{seq}}, "tag": {{json "a<b"}}}'
    expect: [201]
    creates: thing
    capture: {id: $.id, version: $.version, thing: $.thing}
    ack: {query: SELECT 1, args: ["{{.id}}", "{{.version}}"], equals: $.thing}
  - name: update
    uses: thing
    method: PUT
    path: /things/{{.id}}
    headers: {If-Match: "{{.version}}"}
    body: '{"n": {{randInt 1 9}}}'
    expect: [200]
    capture: {version: $.version, thing: $.thing}
    ack: {query: SELECT 2, args: ["{{.id}}", "{{.version}}"], equals: $.thing}
  - name: update-or-create
    uses: thing
    fallback: create
    method: PUT
    path: /things/{{.id}}
    headers: {If-Match: "{{.version}}"}
    body: '{}'
    capture: {version: $.version}
  - name: read
    uses: thing
    path: /things/{{.id}}
    check: {$.version: "{{.version}}", $.thing: "{{.thing}}", $.id: "{{.id}}"}
  - name: bump
    uses: thing
    when: '{{gt (int .version) 1}}'
    method: PUT
    path: /things/{{.id}}
    headers: {If-Match: "{{.version}}"}
    body: '{"bumped": true}'
    capture: {version: $.version, thing: $.thing}
  - name: bump-or-read
    uses: thing
    when: '{{gt (int .version) 1}}'
    fallback: read
    method: PUT
    path: /things/{{.id}}
    headers: {If-Match: "{{.version}}"}
    body: '{"bumped": true}'
    capture: {version: $.version, thing: $.thing}
  - name: stale
    uses: thing
    path: /stale/{{.id}}
    check: {$.version: "{{.version}}"}
  - name: teapot
    method: POST
    path: /teapot
    expect: [200]
  - name: teapot-any-2xx
    method: POST
    path: /teapot
  - name: nofield
    method: POST
    path: /nofield
    creates: thing
    capture: {id: $.id, version: $.version}
  - name: hangup
    path: /hangup
  - name: proxied
    method: POST
    path: /proxied
  - name: break
    uses: thing
    method: PUT
    path: /things/{{.id}}/fail
  - name: badrender
    uses: thing
    path: /things/{{.nope}}
`

type trafficBundle struct {
	api *thingAPI
	srv *httptest.Server
}

func setupTraffic(t *testing.T, scenario string, o TrafficOpts) (*Traffic, *trafficBundle) {
	t.Helper()
	sc, err := ParseScenario([]byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	api, srv := newThingAPI(t)
	tr := NewTraffic(sc, srv.URL, o)
	t.Cleanup(tr.client.CloseIdleConnections)
	return tr, &trafficBundle{api, srv}
}

// step runs the named step once, as a worker would.
func step(t *testing.T, tr *Traffic, name string) {
	t.Helper()
	for i, p := range tr.plans {
		if p.Name == name {
			tr.do(context.Background(), i)
			return
		}
	}
	t.Fatalf("no step %q", name)
}

// pool returns the vars of the free entities of a pool.
func pool(tr *Traffic, name string) []map[string]string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []map[string]string
	for _, e := range tr.pools[name] {
		out = append(out, e.vars)
	}
	return out
}

func wantTotals(t *testing.T, tr *Traffic, ok, failed, skipped int64) {
	t.Helper()
	gotOK, gotFailed, _, gotSkipped := tr.Totals()
	if gotOK != ok || gotFailed != failed || gotSkipped != skipped {
		t.Errorf("ok, failed, skipped = %d, %d, %d; want %d, %d, %d; failures: %v", gotOK, gotFailed, gotSkipped, ok, failed, skipped, tr.Failures())
	}
}

func TestTrafficCreateUpdateRead(t *testing.T) {
	t.Parallel()
	tr, b := setupTraffic(t, thingScenario, TrafficOpts{Seed: 1})

	step(t, tr, "create")
	want := []map[string]string{{"id": "t-1", "version": "1", "thing": `{"n":1,"tag":"a<b"}`}}
	if got := pool(tr, "thing"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after create, pool = %v, want %v", got, want)
	}
	if h := b.api.headers[0]; h.Get("Idempotency-Key") != "key-2" || h.Get("Content-Type") != "application/json" {
		t.Errorf("create's headers = %v; want the rendered Idempotency-Key and a JSON Content-Type", h)
	}

	step(t, tr, "update")
	if h := b.api.headers[1]; h.Get("If-Match") != "1" {
		t.Errorf("update's If-Match = %q, want the captured version 1", h.Get("If-Match"))
	}
	got := pool(tr, "thing")
	if len(got) != 1 || got[0]["id"] != "t-1" || got[0]["version"] != "2" || !sameJSON(textValue(got[0]["thing"]), b.api.things["t-1"].data) {
		t.Fatalf("after update, pool = %v; want t-1 at version 2 with the data sent", got)
	}

	step(t, tr, "read")
	wantTotals(t, tr, 3, 0, 0)

	tr.mu.Lock()
	acks := slices.Clone(tr.acks)
	tr.mu.Unlock()
	if len(acks) != 2 {
		t.Fatalf("acks = %+v, want create's and update's", acks)
	}
	if acks[0].step != "create" || !reflect.DeepEqual(acks[0].args, []any{"t-1", "1"}) || !sameJSON(acks[0].want, json.RawMessage(`{"n":1,"tag":"a<b"}`)) {
		t.Errorf("create's ack = %+v", acks[0])
	}
	if acks[1].step != "update" || acks[1].query != "SELECT 2" || !reflect.DeepEqual(acks[1].args, []any{"t-1", "2"}) || !sameJSON(acks[1].want, b.api.things["t-1"].data) {
		t.Errorf("update's ack = %+v; want the args rendered after the capture (version 2)", acks[1])
	}
}

func TestTrafficFallback(t *testing.T) {
	t.Parallel()
	t.Run("NoEntityRunsFallback", func(t *testing.T) {
		t.Parallel()
		tr, b := setupTraffic(t, thingScenario, TrafficOpts{})
		step(t, tr, "update-or-create")
		if b.api.hit("POST /things") != 1 || b.api.hit("PUT /things/{id}") != 0 || len(pool(tr, "thing")) != 1 {
			t.Errorf("hits %v, pool %v; want the fallback create to run", b.api.hits, pool(tr, "thing"))
		}
		wantTotals(t, tr, 1, 0, 0)
	})
	t.Run("NoEntityNoFallbackSkips", func(t *testing.T) {
		t.Parallel()
		tr, b := setupTraffic(t, thingScenario, TrafficOpts{})
		step(t, tr, "update")
		if len(b.api.headers) != 0 {
			t.Errorf("%d requests sent, want none", len(b.api.headers))
		}
		wantTotals(t, tr, 0, 0, 1)
	})
	t.Run("BusyEntityIsNotShared", func(t *testing.T) {
		t.Parallel()
		tr, b := setupTraffic(t, thingScenario, TrafficOpts{})
		step(t, tr, "create")
		e := tr.take("thing")
		step(t, tr, "update")
		if b.api.hit("PUT /things/{id}") != 0 {
			t.Error("update used an entity another request holds")
		}
		tr.put("thing", e)
		step(t, tr, "update")
		if b.api.hit("PUT /things/{id}") != 1 {
			t.Error("update did not run once the entity was free")
		}
		wantTotals(t, tr, 2, 0, 1)
	})
}

func TestTrafficWhen(t *testing.T) {
	t.Parallel()
	tr, b := setupTraffic(t, thingScenario, TrafficOpts{})
	step(t, tr, "create")

	step(t, tr, "bump-or-read") // version 1: when is false, so read runs
	if b.api.hit("GET /things/{id}") != 1 || b.api.hit("PUT /things/{id}") != 0 {
		t.Errorf("hits = %v; want the fallback read and no bump", b.api.hits)
	}
	step(t, tr, "bump") // no fallback: skipped, the entity stays
	if got := pool(tr, "thing"); len(got) != 1 || got[0]["version"] != "1" {
		t.Errorf("pool = %v; want the entity back, unchanged", got)
	}
	wantTotals(t, tr, 2, 0, 1)

	step(t, tr, "update")
	step(t, tr, "bump-or-read") // version 2: bump runs
	if b.api.hit("PUT /things/{id}") != 2 || b.api.hit("GET /things/{id}") != 1 {
		t.Errorf("hits = %v; want update and bump, and no second read", b.api.hits)
	}
	if got := pool(tr, "thing"); len(got) != 1 || got[0]["version"] != "3" || got[0]["thing"] != `{"bumped":true}` {
		t.Errorf("pool = %v; want version 3 with bump's data", got)
	}
}

func TestTrafficFailureClasses(t *testing.T) {
	t.Parallel()
	tr, _ := setupTraffic(t, thingScenario, TrafficOpts{})
	tr.SetPhase(2)
	for _, name := range []string{"teapot", "nofield", "hangup", "proxied", "teapot-any-2xx"} {
		step(t, tr, name)
	}
	fs := tr.Failures()
	if len(fs) != 5 {
		t.Fatalf("failures = %v, want 5", fs)
	}
	want := []struct {
		step, method, path, class, message, body string
		status                                   int
	}{
		{"teapot", "POST", "/teapot", ClassStatus, "want 200, got 418", "short and stout\n", 418},
		{"nofield", "POST", "/nofield", ClassCheck, "capture id: $.id missing", "{\"version\":1}\n", 200},
		{"hangup", "GET", "/hangup", ClassTransport, "", "", 0},
		{"proxied", "POST", "/proxied", ClassTransport, "rollout proxy: dial tcp 127.0.0.1:1: connect: connection refused", "rollout proxy: dial tcp 127.0.0.1:1: connect: connection refused\n", 502},
		{"teapot-any-2xx", "POST", "/teapot", ClassStatus, "want 2xx, got 418", "short and stout\n", 418},
	}
	for i, w := range want {
		f := fs[i]
		if f.Step != w.step || f.Method != w.method || f.Path != w.path || f.Class != w.class || f.Status != w.status || f.Body != w.body || f.Phase != 2 {
			t.Errorf("failure %d = %+v; want %+v in phase 2", i, f, w)
		}
		if w.message != "" && f.Message != w.message {
			t.Errorf("failure %d message = %q, want %q", i, f.Message, w.message)
		}
		if f.Start.IsZero() || f.End.Before(f.Start) {
			t.Errorf("failure %d: start %v, end %v", i, f.Start, f.End)
		}
	}
	if !strings.Contains(fs[2].Message, "EOF") {
		t.Errorf("hangup's message = %q, want the transport's EOF", fs[2].Message)
	}
	if got := pool(tr, "thing"); len(got) != 0 {
		t.Errorf("pool = %v; a create whose capture failed must not add an entity", got)
	}
	wantStrings := map[int]string{
		0: " teapot POST /teapot: 418 short and stout",
		1: " nofield POST /nofield: 200 capture id: $.id missing",
		3: " proxied POST /proxied: 502 rollout proxy: dial tcp 127.0.0.1:1: connect: connection refused",
	}
	for i, w := range wantStrings {
		if s := fs[i].String(); s != fs[i].Start.Format("15:04:05.000")+w {
			t.Errorf("String() = %q, want the time then %q", s, w)
		}
	}
	wantTotals(t, tr, 0, 5, 0)
}

func TestTrafficFailedRequestDropsEntity(t *testing.T) {
	t.Parallel()
	t.Run("Status", func(t *testing.T) {
		t.Parallel()
		tr, _ := setupTraffic(t, thingScenario, TrafficOpts{})
		step(t, tr, "create")
		step(t, tr, "create")
		step(t, tr, "break")
		fs := tr.Failures()
		if len(fs) != 1 || fs[0].Class != ClassStatus || fs[0].Status != 500 {
			t.Fatalf("failures = %v, want one 500", fs)
		}
		left := pool(tr, "thing")
		if len(left) != 1 || fs[0].Path == "/things/"+left[0]["id"]+"/fail" {
			t.Errorf("pool = %v after %s failed; want only the other entity", left, fs[0].Path)
		}
		step(t, tr, "break")
		step(t, tr, "update")
		wantTotals(t, tr, 2, 2, 1)
	})
	t.Run("Check", func(t *testing.T) {
		t.Parallel()
		tr, _ := setupTraffic(t, thingScenario, TrafficOpts{})
		step(t, tr, "create")
		step(t, tr, "update")
		step(t, tr, "stale")
		fs := tr.Failures()
		if len(fs) != 1 || fs[0].Class != ClassCheck || fs[0].Message != "check $.version: want 2, got 1" {
			t.Fatalf("failures = %v; want the stale read's check", fs)
		}
		if got := pool(tr, "thing"); len(got) != 0 {
			t.Errorf("pool = %v; want the entity dropped", got)
		}
	})
	t.Run("RenderErrorKeepsEntity", func(t *testing.T) {
		t.Parallel()
		tr, b := setupTraffic(t, thingScenario, TrafficOpts{})
		step(t, tr, "create")
		step(t, tr, "badrender")
		fs := tr.Failures()
		if len(fs) != 1 || fs[0].Class != ClassCheck || fs[0].Status != 0 || !strings.HasPrefix(fs[0].Message, "path: ") || !strings.Contains(fs[0].Message, `map has no entry for key "nope"`) {
			t.Fatalf("failures = %v; want the path's render error", fs)
		}
		if len(b.api.headers) != 1 || len(pool(tr, "thing")) != 1 {
			t.Errorf("%d requests, pool %v; want nothing sent and the entity kept", len(b.api.headers), pool(tr, "thing"))
		}
	})
}

func TestTrafficPhases(t *testing.T) {
	t.Parallel()
	tr, _ := setupTraffic(t, thingScenario, TrafficOpts{})
	tr.SetPhase(0)
	step(t, tr, "create")
	step(t, tr, "read")
	tr.SetPhase(1)
	step(t, tr, "teapot")
	step(t, tr, "read")
	tr.SetPhase(2)
	for i, want := range [][2]int64{{2, 0}, {1, 1}, {0, 0}, {0, 0}} {
		if ok, failed := tr.PhaseStats(i); ok != want[0] || failed != want[1] {
			t.Errorf("PhaseStats(%d) = %d, %d; want %d, %d", i, ok, failed, want[0], want[1])
		}
	}
	if ok, failed := tr.PhaseStats(-1); ok != 0 || failed != 0 {
		t.Errorf("PhaseStats(-1) = %d, %d", ok, failed)
	}
	if fs := tr.Failures(); len(fs) != 1 || fs[0].Phase != 1 {
		t.Errorf("failures = %v, want one in phase 1", fs)
	}
}

func TestTrafficEntitiesAreExclusive(t *testing.T) {
	t.Parallel()
	tr, b := setupTraffic(t, thingScenario, TrafficOpts{})
	for range 3 {
		step(t, tr, "create")
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10 {
				step(t, tr, "update")
			}
		})
	}
	wg.Wait()
	ok, failed, _, skipped := tr.Totals()
	if failed != 0 || ok+skipped != 163 || ok < 13 {
		t.Errorf("ok %d, failed %d, skipped %d; failures %v", ok, failed, skipped, tr.Failures())
	}
	var versions int64
	for _, th := range b.api.things {
		versions += th.version
	}
	if versions != ok {
		t.Errorf("the service holds %d versions, the traffic counted %d successes", versions, ok)
	}
}

func TestTrafficPick(t *testing.T) {
	t.Parallel()
	const scenario = "steps: [{name: a, path: /a, weight: 1}, {name: b, path: /b, weight: 3}, {name: c, path: /c, weight: 0.001}]"
	tr, _ := setupTraffic(t, scenario, TrafficOpts{Seed: 3})
	counts := make([]int, 3)
	const n = 20000
	for range n {
		counts[tr.pick()]++
	}
	if share := float64(counts[1]) / n; math.Abs(share-0.75) > 0.02 || counts[0] == 0 || counts[2] > 60 {
		t.Errorf("picks = %v; want about 1:3 and c rare", counts)
	}
	picks := func(seed uint64) []int {
		tr, _ := setupTraffic(t, scenario, TrafficOpts{Seed: seed})
		var out []int
		for range 100 {
			out = append(out, tr.pick())
		}
		return out
	}
	if !slices.Equal(picks(5), picks(5)) {
		t.Error("the same seed picked different steps")
	}
	if slices.Equal(picks(5), picks(6)) {
		t.Error("different seeds picked the same steps")
	}
}

func TestTrafficRun(t *testing.T) {
	t.Parallel()
	const rate = 200
	tr, b := setupTraffic(t, "steps: [{name: create, method: POST, path: /things, body: '{}', creates: thing, capture: {id: $.id}}]", TrafficOpts{Rate: rate})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	tr.Run(ctx)
	elapsed := time.Since(start)
	ok, failed, dropped, skipped := tr.Totals()
	if failed != 0 || skipped != 0 || ok < 20 {
		t.Errorf("ok %d, failed %d, skipped %d; want many answers and nothing else; failures %v", ok, failed, skipped, tr.Failures())
	}
	if ticks := ok + dropped; float64(ticks) > elapsed.Seconds()*rate+1 {
		t.Errorf("%d requests in %v: more than %d a second", ticks, elapsed, rate)
	}
	if int64(b.api.hit("POST /things")) != ok || int64(len(pool(tr, "thing"))) != ok {
		t.Errorf("service saw %d creates, pool holds %d, traffic counted %d", b.api.hit("POST /things"), len(pool(tr, "thing")), ok)
	}
}

func TestTrafficRunDropsTicksAndWaitsForInFlight(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	}))
	t.Cleanup(srv.Close)
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before srv.Close, which waits for the handler, even when the test stops early
	sc, err := ParseScenario([]byte("steps: [{name: slow, path: /slow}]"))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTraffic(sc, srv.URL, TrafficOpts{Rate: 1000, Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.Run(ctx)
	}()
	<-entered
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, _, dropped, _ := tr.Totals(); dropped >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no tick was dropped while the only worker was busy")
		}
	}
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned with a request in flight")
	case <-time.After(50 * time.Millisecond):
	}
	unblock()
	<-done
	if ok, failed, _, _ := tr.Totals(); ok != 1 || failed != 0 {
		t.Errorf("ok %d, failed %d; want the one request in flight to finish after the cancel; failures %v", ok, failed, tr.Failures())
	}
	// The request that held the only worker is what the phase waited on.
	if slow := tr.PhaseSlowest(0); len(slow) != 1 || !strings.Contains(slow[0], "slow GET /slow") {
		t.Errorf("slowest requests %q; want the one that held the worker", slow)
	}
}

func TestTrafficKeepsTheSlowest(t *testing.T) {
	t.Parallel()
	sc, err := ParseScenario([]byte("steps: [{name: read, path: /x}]"))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTraffic(sc, "http://127.0.0.1:1", TrafficOpts{})
	start := time.Date(2026, 1, 1, 4, 45, 0, 0, time.UTC)
	for _, ms := range []int{30, 900, 10, 1500, 200, 5} {
		tr.timed(Failure{Phase: 1, Start: start, End: start.Add(time.Duration(ms) * time.Millisecond), Step: "read", Method: "GET", Path: fmt.Sprintf("/x/%d", ms), Replica: "new-2"})
	}
	want := []string{"04:45:00.000 read GET /x/1500 (new-2): 1.5s", "04:45:00.000 read GET /x/900 (new-2): 900ms", "04:45:00.000 read GET /x/200 (new-2): 200ms"}
	if got := tr.PhaseSlowest(1); !slices.Equal(got, want) {
		t.Errorf("slowest %q; want %q", got, want)
	}
	if got := tr.PhaseSlowest(0); len(got) != 0 {
		t.Errorf("phase 0 had no requests, yet its slowest are %q", got)
	}
}

func TestNewTrafficPanicsOnUncheckedScenario(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "ParseScenario") {
			t.Errorf("recovered %v; want a panic saying how to build a scenario", r)
		}
	}()
	NewTraffic(&Scenario{Steps: []Step{{Name: "a", Path: "/{{"}}}, "http://127.0.0.1:1", TrafficOpts{})
}
