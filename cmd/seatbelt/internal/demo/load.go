package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// load drives the orders API at a fixed rate and remembers every write the
// service acknowledged, so verify can look for each one in the database.
type load struct {
	base   string
	rps    int
	client *http.Client

	rngMu sync.Mutex
	rng   *rand.Rand

	mu       sync.Mutex
	orders   map[string]*orderState
	ids      []string
	imports  map[int64]int // job id -> orders it must create
	failures []failure

	ok, failed, dropped atomic.Int64
	reqSeq              atomic.Int64
	reads               atomic.Int64
	readViolations      atomic.Int64
}

// orderState is what the load knows of one order. Only one request at a
// time touches an order, so its versions are known exactly.
type orderState struct {
	busy      bool
	latest    int64
	uncertain bool                      // a write failed: its outcome is unknown until re-read
	acked     map[int64]json.RawMessage // version -> order JSON the service acknowledged
}

type failure struct {
	at  time.Time
	op  string
	err string
}

const workers = 64

func newLoad(base string, rps int, rng *rand.Rand) *load {
	return &load{
		base:    base,
		rps:     rps,
		rng:     rng,
		client:  &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}},
		orders:  map[string]*orderState{},
		imports: map[int64]int{},
	}
}

// run sends requests at the configured rate until ctx ends, then waits for
// those in flight. A tick with every worker busy is counted as dropped, not
// queued, so the rate never bunches up.
func (l *load) run(ctx context.Context) {
	jobs := make(chan func(), workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for job := range jobs {
				job()
			}
		})
	}
	interval := time.Second / time.Duration(l.rps)
	t := time.NewTicker(interval)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			return
		case <-t.C:
		}
		n++
		op := l.pick(n)
		select {
		case jobs <- op:
		default:
			l.dropped.Add(1)
		}
	}
}

// pick chooses the next request: mostly creates and updates, some reads and
// reverts, and an import every few seconds.
func (l *load) pick(n int) func() {
	if n%(l.rps*3) == 1 {
		return l.startImport
	}
	l.rngMu.Lock()
	r := l.rng.IntN(100)
	l.rngMu.Unlock()
	switch {
	case r < 35:
		return l.create
	case r < 65:
		return l.withOrder(l.update)
	case r < 75:
		return l.withOrder(l.revert)
	default:
		return l.withOrder(l.read)
	}
}

func (l *load) randInt(n int) int {
	l.rngMu.Lock()
	defer l.rngMu.Unlock()
	return l.rng.IntN(n)
}

// withOrder runs op on a random order no other request is using; with none
// free it creates one instead.
func (l *load) withOrder(op func(id string, s *orderState)) func() {
	return func() {
		l.mu.Lock()
		var id string
		var s *orderState
		for range 5 {
			if len(l.ids) == 0 {
				break
			}
			cand := l.ids[l.randInt(len(l.ids))]
			if st := l.orders[cand]; !st.busy {
				id, s = cand, st
				break
			}
		}
		if s == nil {
			l.mu.Unlock()
			l.create()
			return
		}
		s.busy = true
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			s.busy = false
			l.mu.Unlock()
		}()
		if s.uncertain {
			if !l.resync(id, s) {
				return
			}
		}
		op(id, s)
	}
}

type orderBody struct {
	Customer string     `json:"customer"`
	Items    []itemBody `json:"items"`
	Status   string     `json:"status,omitempty"`
}

type itemBody struct {
	SKU        string `json:"sku"`
	Qty        int    `json:"qty"`
	PriceCents int    `json:"price_cents"`
}

func (l *load) randomOrder() orderBody {
	items := make([]itemBody, 1+l.randInt(3))
	for i := range items {
		items[i] = itemBody{SKU: fmt.Sprintf("sku-%d", l.randInt(40)), Qty: 1 + l.randInt(5), PriceCents: 100 + l.randInt(9900)}
	}
	statuses := []string{"new", "paid", "shipped", "cancelled"}
	return orderBody{Customer: fmt.Sprintf("customer-%d", l.randInt(25)), Items: items, Status: statuses[l.randInt(len(statuses))]}
}

// answer is the part of the orders API's responses the load reads.
type answer struct {
	ID      string          `json:"id"`
	Version int64           `json:"version"`
	Order   json.RawMessage `json:"order"`
}

// call sends one request. ok is false when the request failed (transport
// error or an unexpected status): the outcome of a write is then unknown.
func (l *load) call(op, method, path string, body any, header map[string]string, want ...int) (answer, []byte, bool) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, l.base+path, rd)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		l.fail(op, err.Error())
		return answer{}, nil, false
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, w := range want {
		if resp.StatusCode == w {
			var a answer
			_ = json.Unmarshal(raw, &a)
			l.ok.Add(1)
			return a, raw, true
		}
	}
	l.fail(op, fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(raw)))
	return answer{}, nil, false
}

func (l *load) fail(op, msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	l.failures = append(l.failures, failure{at: time.Now(), op: op, err: msg})
	l.mu.Unlock()
}

func (l *load) create() {
	key := fmt.Sprintf("demo-%d-%d", time.Now().UnixNano(), l.reqSeq.Add(1))
	a, _, ok := l.call("create", "POST", "/orders", l.randomOrder(), map[string]string{"Idempotency-Key": key}, 201, 200)
	if !ok {
		// The order may or may not exist; a retry with the same key would
		// tell, but the demo keeps only what was acknowledged.
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.orders[a.ID] = &orderState{latest: a.Version, acked: map[int64]json.RawMessage{a.Version: a.Order}}
	l.ids = append(l.ids, a.ID)
}

func (l *load) update(id string, s *orderState) {
	a, _, ok := l.call("update", "PUT", "/orders/"+id, l.randomOrder(), map[string]string{"If-Match": strconv.FormatInt(s.latest, 10)}, 200)
	if !ok {
		s.uncertain = true
		return
	}
	s.latest = a.Version
	s.acked[a.Version] = a.Order
}

func (l *load) revert(id string, s *orderState) {
	var targets []int64
	for v := range s.acked {
		if v < s.latest {
			targets = append(targets, v)
		}
	}
	if len(targets) == 0 {
		l.read(id, s)
		return
	}
	to := targets[l.randInt(len(targets))]
	body := map[string]any{"to_version": to, "reason": "demo", "expected_version": s.latest}
	a, _, ok := l.call("revert", "POST", "/orders/"+id+"/revert", body, nil, 200)
	if !ok {
		s.uncertain = true
		return
	}
	s.latest = a.Version
	s.acked[a.Version] = s.acked[to]
}

// read checks that the latest version the service returns is the one the
// load last wrote.
func (l *load) read(id string, s *orderState) {
	a, _, ok := l.call("read", "GET", "/orders/"+id, nil, nil, 200)
	if !ok {
		return
	}
	l.reads.Add(1)
	if a.Version != s.latest || !sameJSON(a.Order, s.acked[s.latest]) {
		l.readViolations.Add(1)
	}
}

// resync re-reads an order after a write whose outcome is unknown.
func (l *load) resync(id string, s *orderState) bool {
	a, _, ok := l.call("read", "GET", "/orders/"+id, nil, nil, 200)
	if !ok {
		return false
	}
	if a.Version < s.latest {
		l.readViolations.Add(1) // an acknowledged version vanished
	}
	s.latest, s.uncertain = a.Version, false
	s.acked[a.Version] = a.Order
	return true
}

func (l *load) startImport() {
	n := 100 + l.randInt(101)
	body := map[string]any{"customer": fmt.Sprintf("importer-%d", l.randInt(5)), "orders": n}
	resp, err := l.client.Post(l.base+"/imports", "application/json", bytes.NewReader(must(json.Marshal(body))))
	if err != nil {
		l.fail("import", err.Error())
		return
	}
	defer resp.Body.Close()
	var a struct {
		ID int64 `json:"id"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &a) != nil {
		l.fail("import", fmt.Sprintf("POST /imports: %d %s", resp.StatusCode, raw))
		return
	}
	l.ok.Add(1)
	l.mu.Lock()
	l.imports[a.ID] = n
	l.mu.Unlock()
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// sameJSON compares two JSON documents by value.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
