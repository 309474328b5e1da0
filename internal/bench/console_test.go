package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

func TestBenchConsoleSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole-system bench run; go test without -short runs it")
	}
	out, code := runBench(t, "console", "--json", "--jobs", "5000", "--records", "5000", "--rounds", "2")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r benchConsoleResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	var jobs int64
	for _, n := range r.States {
		jobs += n
	}
	if r.Jobs != 5000 || jobs != 5000 || r.States["failed"] == 0 || r.States["running"] != 10 || r.JobEvents < 3*5000 || r.Entities == 0 ||
		r.Records != 5000 || r.Streams < 400 || r.Rounds != 2 || r.FillSeconds <= 0 || len(r.SeqScans) != len(consoleBigTables) {
		t.Fatalf("result %+v", r)
	}
	if len(r.Pages) != 16 {
		t.Fatalf("%d pages timed, want 16: %+v", len(r.Pages), r.Pages)
	}
	for _, p := range r.Pages {
		if p.P50Ms <= 0 || p.MaxMs < p.P50Ms || p.SQLP50Ms <= 0 || p.SQLP50Ms > p.MaxMs || p.Statements == 0 || p.Bytes == 0 || p.Met != (p.P50Ms < 100) {
			t.Errorf("page %+v", p)
		}
	}
	if !strings.Contains(out, "/jobs?state=failed ") || !strings.Contains(out, "/events/types/") || !strings.Contains(out, "sequential scans while serving") {
		t.Fatalf("no table:\n%s", out)
	}
}

func TestBenchConsoleRejectsBadFlags(t *testing.T) {
	if out, code := runBench(t, "console", "--records", "10"); code != 2 || !strings.Contains(out, "--records") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// A page over the goal shows its statements, batches marked, and the plan
// of its slowest query that is not a batch.
func TestExplainSlowPages(t *testing.T) {
	ctx := t.Context()
	server, closeServer, err := findServer(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeServer()
	dbURL, drop, err := pglocal.CreateDatabase(ctx, server, "seatbelt_bench_explain")
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	pages := []benchConsolePage{{Path: "/fast", Met: true}, {Path: "/slow", P50Ms: 150}}
	last := [][]tracedQuery{
		{{sql: "SELECT 'fast page'", took: time.Millisecond}},
		{
			{sql: "SELECT 1;\nSELECT 2;\n", batch: 2, took: 90 * time.Millisecond},
			{sql: "SELECT count(*) FROM generate_series(1, $1::int)", args: []any{1000}, took: 40 * time.Millisecond},
			{sql: "SELECT 'quick'", took: time.Millisecond},
		},
	}
	var out strings.Builder
	if err := explainSlowPages(ctx, &out, dbURL, pages, last); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"/slow: 150.0 ms p50", "(a batch of 2) SELECT 1;", "EXPLAIN (ANALYZE, BUFFERS) of the slowest query, args [1000]:",
		"Function Scan on generate_series", "Execution Time"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	if strings.Contains(s, "fast page") || strings.Index(s, "90.00 ms") > strings.Index(s, "40.00 ms") {
		t.Errorf("a page within the goal explained, or the statements not slowest first:\n%s", s)
	}
}

// Only a 200 counts as a page: an error or a redirect fails the run,
// showing what came back.
func TestFetchPageWantsOK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "<html>a page</html>")
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusSeeOther)
		default:
			http.Error(w, "no such job 42: it may have been deleted", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if n, err := fetchPage(t.Context(), client, srv.URL, "/ok"); err != nil || n != len("<html>a page</html>") {
		t.Fatalf("a 200: %d bytes, %v", n, err)
	}
	if _, err := fetchPage(t.Context(), client, srv.URL, "/jobs/42"); err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no such job 42") {
		t.Fatalf("a 404: %v", err)
	}
	if _, err := fetchPage(t.Context(), client, srv.URL, "/moved"); err == nil || !strings.Contains(err.Error(), "303") {
		t.Fatalf("a redirect: %v", err)
	}
}
