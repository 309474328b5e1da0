package rehearse

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func setupDB(t *testing.T, ddl string) *pgxpool.Pool {
	t.Helper()
	db := migtest.New(t)
	if _, err := db.Exec(context.Background(), ddl); err != nil {
		t.Fatal(err)
	}
	return db
}

// newStoringAPI is a service that keeps its things in the database, and
// on request lies about what it stored (?mode=lie) or loses it (?mode=lose).
func newStoringAPI(t *testing.T, db *pgxpool.Pool) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := fmt.Sprintf("t-%d", n.Add(1))
		stored := string(body)
		if r.URL.Query().Get("mode") == "lie" {
			stored = `{"lied": true}`
		}
		if r.URL.Query().Get("mode") != "lose" {
			_, err := db.Exec(r.Context(), `INSERT INTO things (id, version, data) VALUES ($1, 1, $2::jsonb)`, id, stored)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusCreated)
		// The answer keeps the body's own key order and spacing, which
		// jsonb does not.
		fmt.Fprintf(w, `{"id": %q, "version": 1, "thing": %s}`, id, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

const ackScenario = `
steps:
  - name: honest
    method: POST
    path: /things
    body: '{"name": "x{{seq}}", "qty": 2}'
    capture: {id: $.id, version: $.version}
    ack: {query: "SELECT data FROM things WHERE id = $1 AND version = $2", args: ["{{.id}}", "{{.version}}"], equals: $.thing}
  - name: row-only
    method: POST
    path: /things
    body: '{}'
    capture: {id: $.id}
    ack: {query: "SELECT 1 FROM things WHERE id = $1", args: ["{{.id}}"]}
  - name: text-column
    method: POST
    path: /things
    body: '{}'
    capture: {id: $.id}
    ack: {query: "SELECT id FROM things WHERE id = $1", args: ["{{.id}}"], equals: $.id}
  - name: number-column
    method: POST
    path: /things
    body: '{}'
    capture: {id: $.id}
    ack: {query: "SELECT version FROM things WHERE id = $1", args: ["{{.id}}"], equals: $.version}
  - name: lie
    method: POST
    path: /things?mode=lie
    body: '{"name": "truth"}'
    capture: {id: $.id}
    ack: {query: "SELECT data FROM things WHERE id = $1", args: ["{{.id}}"], equals: $.thing}
  - name: lose
    method: POST
    path: /things?mode=lose
    body: '{}'
    capture: {id: $.id}
    ack: {query: "SELECT 1 FROM things WHERE id = $1", args: ["{{.id}}"]}
  - name: badsql
    method: POST
    path: /things
    body: '{}'
    ack: {query: "SELECT nope FROM things"}
`

func setupAcks(t *testing.T) (*Traffic, *pgxpool.Pool) {
	t.Helper()
	db := setupDB(t, `CREATE TABLE things (id text, version bigint, data jsonb, PRIMARY KEY (id, version))`)
	sc, err := ParseScenario([]byte(ackScenario))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTraffic(sc, newStoringAPI(t, db).URL, TrafficOpts{})
	t.Cleanup(tr.client.CloseIdleConnections)
	return tr, db
}

func TestCheckAcks(t *testing.T) {
	t.Parallel()
	tr, db := setupAcks(t)
	for _, name := range []string{"honest", "row-only", "text-column", "number-column", "lie", "lose"} {
		step(t, tr, name)
	}
	if _, failed, _, _ := tr.Totals(); failed != 0 {
		t.Fatalf("requests failed: %v", tr.Failures())
	}
	rep, err := tr.CheckAcks(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 6 || rep.Violations != 2 || len(rep.Examples) != 2 {
		t.Fatalf("report = %+v; want 6 checked, the lie and the loss found", rep)
	}
	if want := `lie (args [t-5]): the database has {"lied":true}, the service answered {"name":"truth"}`; rep.Examples[0] != want {
		t.Errorf("example = %q, want %q", rep.Examples[0], want)
	}
	if want := "lose (args [t-6]): not in the database"; rep.Examples[1] != want {
		t.Errorf("example = %q, want %q", rep.Examples[1], want)
	}
}

func TestCheckAcksQueryError(t *testing.T) {
	t.Parallel()
	tr, db := setupAcks(t)
	step(t, tr, "honest")
	step(t, tr, "badsql")
	_, err := tr.CheckAcks(context.Background(), db)
	if err == nil || !strings.Contains(err.Error(), `step "badsql"`) || !strings.Contains(err.Error(), `column "nope" does not exist`) {
		t.Errorf("error = %v; want the step and the database's complaint", err)
	}
}

func TestCheckAcksManyBatches(t *testing.T) {
	t.Parallel()
	tr, db := setupAcks(t)
	const n = 2*ackBatchSize + 100
	for i := range n {
		// Every third is missing.
		tr.acks = append(tr.acks, ackRecord{step: "s", query: "SELECT 1 WHERE $1::int % 3 <> 0", args: []any{strconv.Itoa(i)}})
	}
	rep, err := tr.CheckAcks(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != n || rep.Violations != (n+2)/3 || len(rep.Examples) != ackExamples || rep.Examples[1] != "s (args [3]): not in the database" {
		t.Errorf("report = %d checked, %d violations, examples %q; want %d, %d, the first %d", rep.Checked, rep.Violations, rep.Examples, n, (n+2)/3, ackExamples)
	}
}

func TestColumnValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		col, want any
		same      bool
	}{
		{"123", "123", true},                                      // a text id against a string
		{"123", json.Number("123"), true},                         // digits in a text column against a number
		{`{"a": 1}`, map[string]any{"a": json.Number("1")}, true}, // a document in a text column
		{`{"a": 1}`, `{"a": 1}`, true},
		{"abc", json.Number("1"), false},
		{[16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8}, "12345678-9abc-def0-0102-030405060708", true},
		{int64(7), json.Number("7"), true},
	}
	for _, tt := range tests {
		if got := sameJSON(columnValue(tt.col, tt.want), tt.want); got != tt.same {
			t.Errorf("column %#v against %#v: same = %t, want %t", tt.col, tt.want, got, tt.same)
		}
	}
}

func TestCheckInvariants(t *testing.T) {
	t.Parallel()
	db := setupDB(t, `CREATE TABLE jobs (id int, state text, doc jsonb, at timestamptz, amount numeric);
		INSERT INTO jobs VALUES (1, 'stuck', '{"a": [1]}', '2024-05-06 07:08:09Z', 12.50), (2, 'done', NULL, NULL, NULL), (3, 'failed', NULL, NULL, NULL)`)
	invs := []Invariant{
		{Name: "unfinished", Query: "SELECT id, state, doc, at, amount FROM jobs WHERE state <> 'done' ORDER BY id", Cause: "job"},
		{Name: "negative ids", Query: "SELECT id FROM jobs WHERE id < 0"},
	}
	got, err := CheckInvariants(context.Background(), db, invs)
	if err != nil {
		t.Fatal(err)
	}
	want := []InvariantResult{
		{Name: "unfinished", Cause: "job", Rows: 2, Sample: `id=1, state=stuck, doc={"a":[1]}, at=2024-05-06T07:08:09Z, amount=12.50`},
		{Name: "negative ids", Cause: "data", OK: true},
	}
	if len(got) != 2 {
		t.Fatalf("results = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCheckInvariantsQueryError(t *testing.T) {
	t.Parallel()
	db := migtest.New(t)
	got, err := CheckInvariants(context.Background(), db, []Invariant{
		{Name: "fine", Query: "SELECT 1 WHERE false"},
		{Name: "broken", Query: "SELECT id FROM nowhere", Cause: "job"},
		{Name: "wrong", Query: "SELECT 1/0", Cause: "job"},
	})
	if err == nil || !strings.Contains(err.Error(), `rehearse: invariant "broken"`) || !strings.Contains(err.Error(), `relation "nowhere" does not exist`) {
		t.Errorf("error = %v; want it to name the invariant and say what is wrong", err)
	}
	if len(got) != 3 || !got[0].OK || got[1].OK || got[2].OK {
		t.Fatalf("results = %+v; want the fine one checked anyway", got)
	}
	// A missing table is what a migration does: the schema's. A query
	// that is wrong on its own keeps its cause.
	if got[1].Cause != CauseSchema || !strings.Contains(got[1].Error, "nowhere") || got[2].Cause != "job" || !strings.Contains(got[2].Error, "division by zero") {
		t.Errorf("results = %+v; want the missing table blamed on the schema, the division on the invariant's cause", got)
	}
}

// TestCheckInvariantsWithin has two invariants that hold only after a
// change made while they are being retried: a row deleted, a row inserted.
func TestCheckInvariantsWithin(t *testing.T) {
	t.Parallel()
	db := setupDB(t, `CREATE TABLE pending (id int); INSERT INTO pending VALUES (1); CREATE TABLE arrived (id int)`)
	invs := []Invariant{
		{Name: "pending left", Query: "SELECT id FROM pending", Within: Duration(time.Minute)},
		{Name: "nothing arrived", Query: "SELECT 'none' WHERE NOT EXISTS (SELECT FROM arrived)", Within: Duration(time.Minute)},
	}
	fixes := map[string]string{"pending left": "DELETE FROM pending", "nothing arrived": "INSERT INTO arrived VALUES (1)"}
	var mu sync.Mutex
	runs := map[string][]int64{}
	fixed := make(chan string, 2)
	ran := func(name string, rows int64) {
		mu.Lock()
		defer mu.Unlock()
		runs[name] = append(runs[name], rows)
		if len(runs[name]) == 1 {
			fixed <- name
		}
	}
	go func() {
		for range 2 {
			name := <-fixed
			if _, err := db.Exec(context.Background(), fixes[name]); err != nil {
				t.Error(err)
			}
		}
	}()
	got, err := checkInvariants(context.Background(), db, invs, 5*time.Millisecond, ran)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if !r.OK || r.Rows != 0 {
			t.Errorf("%s = %+v; want it to hold after the change", invs[i].Name, r)
		}
		mu.Lock()
		if rs := runs[r.Name]; len(rs) < 2 || rs[0] != 1 || rs[len(rs)-1] != 0 {
			t.Errorf("%s ran with rows %v; want 1 first and 0 last", r.Name, rs)
		}
		mu.Unlock()
	}
}

func TestCheckInvariantsWithinExpires(t *testing.T) {
	t.Parallel()
	db := migtest.New(t)
	// The pool's connection is opened first: opening it in the first run
	// took the whole window on a loaded 2-core machine (465 ms of a 300 ms
	// window once), leaving no time for a retry.
	if _, err := db.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	start := time.Now()
	const within = 300 * time.Millisecond
	got, err := checkInvariants(context.Background(), db, []Invariant{{Name: "never", Query: "SELECT 1", Within: Duration(within)}},
		10*time.Millisecond, func(string, int64) { runs.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if got[0].OK || got[0].Rows != 1 || got[0].Sample != "?column?=1" {
		t.Errorf("result = %+v; want it broken with its row", got[0])
	}
	if elapsed := time.Since(start); runs.Load() < 2 || elapsed < within {
		t.Errorf("%d runs in %v; want retries for the whole %v", runs.Load(), elapsed, within)
	}
}

func TestCheckInvariantsCanceled(t *testing.T) {
	t.Parallel()
	db := migtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := checkInvariants(ctx, db, []Invariant{{Name: "never", Query: "SELECT 1", Within: Duration(time.Hour)}},
		time.Hour, func(string, int64) { cancel() })
	if err == nil || !strings.Contains(err.Error(), `invariant "never"`) || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error = %v; want the invariant named and the cancel", err)
	}
}
