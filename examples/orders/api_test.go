package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
	"github.com/seatbelt-go/seatbelt/tracing"
)

type testBundle struct {
	url     string
	handler http.Handler // the API, traced, as url serves it
	db      *pgxpool.Pool
	log     *eventlog.Store
	worker  *jobs.Client
	logs    *logBuffer // what the API logged, as JSON lines
	// broken holds the names of the import stages that fail on every
	// attempt while they are in it, as a stage with a bug would.
	broken *sync.Map
}

// setup serves the API on a migrated database of the test's own, traced as
// main does. The job worker and the summary consumer run only when a test
// starts them.
func setup(t *testing.T) *testBundle {
	t.Helper()
	db := migtest.New(t, allSets()...)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	logs := &logBuffer{}
	logger := slog.New(tracing.NewLogHandler(slog.NewJSONHandler(logs, nil)))
	log, err := eventlog.New(db, &eventlog.Config{Writer: "test-build", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	deleters := map[string]jobs.Deleter{orderTable: deleteOrders(log)}
	worker, err := jobs.NewClient(db, &jobs.Config{Deleters: deleters, Queues: jobQueues, Logger: quiet, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	broken := &sync.Map{}
	kind := importJobKind(log)
	for i, st := range kind.Stages {
		kind.Stages[i].Run = func(ctx context.Context, r *jobs.StageRun) error {
			if _, ok := broken.Load(st.Name); ok {
				return fmt.Errorf("stage %s is broken", st.Name)
			}
			return st.Run(ctx, r)
		}
	}
	if err := worker.Register(kind); err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider()
	handler := tracing.Middleware(routes(db, log, deleters, "test-build", logger), &tracing.HTTPConfig{TracerProvider: tp})
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		srv.Close()
		_ = worker.Stop(context.Background())
		log.Close()
		_ = tp.Shutdown(context.Background())
	})
	return &testBundle{url: srv.URL, handler: handler, db: db, log: log, worker: worker, logs: logs, broken: broken}
}

// logBuffer is an io.Writer safe for the server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records are the JSON log records logged with msg.
func (l *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.buf.Bytes(), []byte("\n")) {
		var m map[string]any
		if len(line) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// call sends a JSON request and decodes the JSON answer into a map.
func (b *testBundle) call(t *testing.T, method, path, body string, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	code, raw, h := b.send(t, method, path, []byte(body), int64(len(body)), header...)
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, raw)
	}
	return code, m, h
}

const order1 = `{"customer":"c-1","items":[{"sku":"a","qty":2,"price_cents":150}]}`

func TestOrderVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, m, h := b.call(t, "POST", "/orders", order1)
	if code != 201 || m["version"] != 1.0 || h.Get("ETag") != `"1"` {
		t.Fatalf("create: %d %v %v", code, m, h)
	}
	id := m["id"].(string)
	if total := m["order"].(map[string]any)["total_cents"]; total != 300.0 {
		t.Fatalf("total %v, want 300 computed by the service", total)
	}

	code, m, _ = b.call(t, "PUT", "/orders/"+id, `{"customer":"c-1","status":"paid","items":[{"sku":"a","qty":3,"price_cents":150}]}`, "If-Match", `"1"`)
	if code != 200 || m["version"] != 2.0 {
		t.Fatalf("update: %d %v", code, m)
	}
	// A second editor who read version 1 is refused and told the current one.
	code, m, h = b.call(t, "PUT", "/orders/"+id, order1, "If-Match", "1")
	if code != 409 || h.Get("ETag") != `"2"` || !strings.Contains(m["error"].(string), "at version 2") {
		t.Fatalf("stale update: %d %v %v", code, m, h)
	}
	if code, m, _ := b.call(t, "PUT", "/orders/"+id, order1); code != 428 || !strings.Contains(m["error"].(string), "If-Match") {
		t.Fatalf("update without If-Match: %d %v", code, m)
	}

	code, m, _ = b.call(t, "GET", "/orders/"+id+"?version=1", "")
	if code != 200 || m["version"] != 1.0 || m["order"].(map[string]any)["status"] != "new" || m["writer"] != "test-build" {
		t.Fatalf("version 1: %d %v", code, m)
	}
	code, m, _ = b.call(t, "GET", "/orders/"+id, "")
	if code != 200 || m["version"] != 2.0 || m["order"].(map[string]any)["status"] != "paid" {
		t.Fatalf("latest: %d %v", code, m)
	}
	v2time := m["time"].(string)
	code, m, _ = b.call(t, "GET", "/orders/"+id+"?as_of="+v2time, "")
	if code != 200 || m["version"] != 2.0 {
		t.Fatalf("as_of the time of version 2: %d %v", code, m)
	}
	code, _, _ = b.call(t, "GET", "/orders/"+id+"?as_of=2000-01-01T00:00:00Z", "")
	if code != 404 {
		t.Fatalf("as_of before the order existed: %d, want 404", code)
	}

	code, m, _ = b.call(t, "POST", "/orders/"+id+"/revert", `{"to_version":1,"reason":"bad deploy"}`)
	if code != 200 || m["version"] != 3.0 || m["to_version"] != 1.0 {
		t.Fatalf("revert: %d %v", code, m)
	}
	code, m, _ = b.call(t, "GET", "/orders/"+id, "")
	if code != 200 || m["revert_of"] != 1.0 || m["order"].(map[string]any)["status"] != "new" {
		t.Fatalf("after revert: %d %v", code, m)
	}
	code, m, _ = b.call(t, "GET", "/orders/"+id+"/versions?order=newest&limit=2", "")
	vs, _ := m["versions"].([]any)
	if code != 200 || len(vs) != 2 || vs[0].(map[string]any)["version"] != 3.0 || m["next"] == nil {
		t.Fatalf("versions page: %d %v", code, m)
	}
}

func TestIdempotencyKeyCreatesOneOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code1, m1, _ := b.call(t, "POST", "/orders", order1, "Idempotency-Key", "k-1")
	code2, m2, _ := b.call(t, "POST", "/orders", order1, "Idempotency-Key", "k-1")
	if code1 != 201 || code2 != 200 || m1["id"] != m2["id"] || m2["version"] != 1.0 {
		t.Fatalf("retry: %d %v then %d %v", code1, m1, code2, m2)
	}
	page, err := b.log.History(context.Background(), orderStream(m1["id"].(string)), nil)
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("history after a retried create: %v %v", page, err)
	}
}

func TestBadRequestsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               []string
	}{
		{"POST", "/orders", `{"customer":`, 400, []string{"body:"}},
		{"POST", "/orders", ``, 400, []string{"got nothing"}},
		{"POST", "/orders", `{"customer":"c","items":[{"sku":"a","qty":1}]} {}`, 400, []string{"more after it"}},
		{"POST", "/orders", `{"custmer":"c"}`, 400, []string{`unknown field "custmer"`}},
		{"POST", "/orders", `{"customer":"","status":"lost","items":[{"sku":"","qty":0,"price_cents":-1}]}`, 400,
			[]string{"customer: required", `status: "lost"`, "items[0].sku", "items[0].qty", "items[0].price_cents"}},
		{"GET", "/orders/o-1?version=x", "", 400, []string{"version: want a positive integer"}},
		{"GET", "/orders/o-1?as_of=yesterday", "", 400, []string{"as_of: want an RFC 3339 time"}},
		{"GET", "/orders/o-missing", "", 404, []string{"not found"}},
		{"POST", "/orders/o-missing/revert", `{"to_version":0}`, 400, []string{"to_version"}},
		{"POST", "/imports", `{"customer":"","orders":0}`, 400, []string{"customer: required", "orders: want 1 to 5000"}},
		{"GET", "/imports/abc", "", 400, []string{"import id"}},
		{"GET", "/imports/999999", "", 404, []string{"import 999999: not found"}},
	} {
		code, m, _ := b.call(t, tc.method, tc.path, tc.body)
		msg, _ := m["error"].(string)
		if code != tc.code {
			t.Errorf("%s %s %s: %d %q, want %d", tc.method, tc.path, tc.body, code, msg, tc.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s %s %s: error %q does not say %q", tc.method, tc.path, tc.body, msg, w)
			}
		}
	}
}

// waitJob polls an import until its state is want.
func (b *testBundle) waitJob(t *testing.T, id string, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, m, _ := b.call(t, "GET", "/imports/"+id, "")
		if m["state"] == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %s is %v, want %s", id, m["state"], want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// liveImportOrders counts the import's orders whose latest version is an order.
func (b *testBundle) liveImportOrders(t *testing.T, id string) (live, versions int) {
	t.Helper()
	err := b.db.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE data <> 'null'::jsonb), (SELECT count(*) FROM eventlog_records WHERE stream_id LIKE $1)
		FROM (SELECT DISTINCT ON (stream_id) data FROM eventlog_records WHERE stream_id LIKE $1 ORDER BY stream_id, version DESC) latest`,
		"imp-"+id+"-%").Scan(&live, &versions)
	if err != nil {
		t.Fatal(err)
	}
	return live, versions
}

func TestImportCreatesItsOrdersOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.worker.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, m, _ := b.call(t, "POST", "/imports", `{"customer":"bulk","orders":230}`)
	if code != 202 {
		t.Fatalf("enqueue: %d %v", code, m)
	}
	id := jsonID(m["id"])
	job := b.waitJob(t, id, "succeeded")
	if job["entities"] != 230.0 || job["queue"] != importQueue {
		t.Fatalf("ledger has %v orders (want 230), queue %v (want %s)", job["entities"], job["queue"], importQueue)
	}
	if live, versions := b.liveImportOrders(t, id); live != 230 || versions != 230 {
		t.Fatalf("%d live orders in %d versions, want 230 in 230", live, versions)
	}
}

func TestFailedImportIsCleanedUpAndRestarted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.worker.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.broken.Store("create-3", true)
	_, m, _ := b.call(t, "POST", "/imports", `{"customer":"bulk","orders":100}`)
	id := jsonID(m["id"])
	b.waitJob(t, id, "failed")
	b.broken.Delete("create-3") // the fix is deployed
	if live, _ := b.liveImportOrders(t, id); live != 40 {
		t.Fatalf("%d orders after failing at stage 3, want the 40 of stages 1 and 2", live)
	}
	code, m, _ := b.call(t, "POST", "/imports/"+id+"/cleanup?dry_run", "")
	if code != 200 || m["deleted"].(map[string]any)[orderTable] != 40.0 {
		t.Fatalf("dry run: %d %v", code, m)
	}
	if live, _ := b.liveImportOrders(t, id); live != 40 {
		t.Fatal("a dry run changed orders")
	}
	code, m, _ = b.call(t, "POST", "/imports/"+id+"/cleanup", "")
	if code != 200 || m["deleted"].(map[string]any)[orderTable] != 40.0 || m["rows"].(map[string]any)[orderTable] != 40.0 {
		t.Fatalf("cleanup: %d %v; want 40 keys and 40 orders removed", code, m)
	}
	if live, versions := b.liveImportOrders(t, id); live != 0 || versions != 80 {
		t.Fatalf("after cleanup %d live orders in %d versions, want 0 in 80 (history kept)", live, versions)
	}
	code, m, _ = b.call(t, "POST", "/imports/"+id+"/cleanup", "")
	if code != 200 || m["already_clean"] != true {
		t.Fatalf("second cleanup: %d %v, want a no-op", code, m)
	}
	code, m, _ = b.call(t, "POST", "/imports/"+id+"/restart", `{"from_first":true}`)
	if code != 202 {
		t.Fatalf("restart: %d %v", code, m)
	}
	b.waitJob(t, id, "succeeded")
	if live, _ := b.liveImportOrders(t, id); live != 100 {
		t.Fatalf("%d live orders after the restart, want 100", live)
	}
	// The job's history says where the cleanup and the restart came from.
	var cleanedBy, restartedBy string
	err := b.db.QueryRow(context.Background(), `
SELECT max(detail->>'actor') FILTER (WHERE event = 'cleaned'), max(detail->>'actor') FILTER (WHERE event = 'restarted')
FROM seatbelt_job_events WHERE job_id = $1::bigint`, id).Scan(&cleanedBy, &restartedBy)
	if err != nil || !strings.HasPrefix(cleanedBy, "orders API, from ") || !strings.HasPrefix(restartedBy, "orders API, from ") {
		t.Fatalf("cleaned by %q, restarted by %q, %v; want the API and the caller's address", cleanedBy, restartedBy, err)
	}
}

func TestSummaryFollowsTheLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := b.log.NewConsumer(summaryConsumer, summarize, &eventlog.ConsumerConfig{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	_, m, _ := b.call(t, "POST", "/orders", `{"customer":"sum","items":[{"sku":"a","qty":1,"price_cents":100}]}`)
	id := m["id"].(string)
	b.call(t, "POST", "/orders", `{"customer":"sum","items":[{"sku":"b","qty":1,"price_cents":50}]}`)
	b.call(t, "PUT", "/orders/"+id, `{"customer":"sum","items":[{"sku":"a","qty":4,"price_cents":100}]}`, "If-Match", "1")
	waitSummary(t, b, "sum", 2, 450)
	b.call(t, "POST", "/orders/"+id+"/revert", `{"to_version":1}`)
	waitSummary(t, b, "sum", 2, 150)
}

func waitSummary(t *testing.T, b *testBundle, customer string, orders, total float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, m, _ := b.call(t, "GET", "/customers/"+customer+"/summary", "")
		if code == 200 && m["orders"] == orders && m["total_cents"] == total {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("summary %d %v, want %v orders totalling %v", code, m, orders, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jsonID(v any) string {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	return strings.TrimSpace(buf.String())
}
