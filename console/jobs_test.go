package console_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// jobSet is a database with a job in each state, made by a running client
// through real stages, and that client.
type jobSet struct {
	db *pgxpool.Pool
	// The jobs: failed twice over (one to clean up, one to restart),
	// succeeded, running (its stage waits for a cancel), available (in a
	// queue no client works), cancelled and cleaned.
	failed, failed2, succeeded, running, available, cancelled, cleaned int64
}

// widgetDeleters delete what the import stages record.
var widgetDeleters = map[string]jobs.Deleter{"widgets": jobs.DeleteByColumn("id")}

// newJobSet fills db: an "import" job's fetch stage creates two widgets
// and records them, then its publish stage fails (twice: MaxAttempts 2)
// when its args say so; "report" succeeds with a result; "long" runs until
// it is cancelled.
func newJobSet(t *testing.T, db *pgxpool.Pool) *jobSet {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Exec(ctx, "CREATE TABLE widgets (id bigserial PRIMARY KEY, job_id bigint NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	importKind := jobs.Kind{Name: "import", Stages: []jobs.Stage{
		{Name: "fetch", Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			for range 2 {
				var id int64
				if err := tx.QueryRow(ctx, "INSERT INTO widgets (job_id) VALUES ($1) RETURNING id", r.JobID()).Scan(&id); err != nil {
					return err
				}
				if err := r.Track(ctx, "widgets", id); err != nil {
					return err
				}
			}
			return r.SetResult(map[string]int{"widgets": 2})
		}},
		{Name: "publish", MaxAttempts: 2, Run: func(ctx context.Context, r *jobs.StageRun) error {
			var args struct{ Fail bool }
			if err := r.Args(&args); err != nil {
				return err
			}
			if args.Fail {
				return errors.New("publisher rejected the batch")
			}
			return nil
		}},
	}}
	report := jobs.Kind{Name: "report", Stages: []jobs.Stage{{Name: "render", Run: func(ctx context.Context, r *jobs.StageRun) error {
		return r.SetResult(map[string]int{"pages": 3})
	}}}}
	long := jobs.Kind{Name: "long", Stages: []jobs.Stage{{Name: "wait", Run: func(ctx context.Context, r *jobs.StageRun) error {
		<-ctx.Done()
		return ctx.Err()
	}}}}
	client, err := jobs.NewClient(db, &jobs.Config{
		PollInterval: 20 * time.Millisecond, LeaderInterval: 100 * time.Millisecond,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []jobs.Kind{importKind, report, long} {
		if err := client.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.StopAndCancel(ctx); err != nil {
			t.Errorf("stopping the client: %v", err)
		}
	})
	enqueue := func(kind string, args any, opts *jobs.EnqueueOpts) int64 {
		t.Helper()
		res, err := jobs.Enqueue(ctx, db, kind, args, opts)
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	s := &jobSet{db: db}
	s.failed = enqueue("import", map[string]bool{"fail": true}, nil)
	s.failed2 = enqueue("import", map[string]bool{"fail": true}, nil)
	cleaned := enqueue("import", map[string]bool{"fail": true}, nil)
	s.succeeded = enqueue("report", nil, nil)
	s.running = enqueue("long", nil, nil)
	s.available = enqueue("report", nil, &jobs.EnqueueOpts{Queue: "bulk"})
	s.cancelled = enqueue("report", nil, &jobs.EnqueueOpts{Queue: "bulk"})
	if _, err := jobs.Cancel(ctx, db, s.cancelled, nil); err != nil {
		t.Fatal(err)
	}
	for id, state := range map[int64]jobs.JobState{s.failed: "failed", s.failed2: "failed", cleaned: "failed", s.succeeded: "succeeded", s.running: "running"} {
		waitJob(t, db, id, state)
	}
	if _, err := jobs.Cleanup(ctx, db, cleaned, &jobs.CleanupOpts{Deleters: widgetDeleters}); err != nil {
		t.Fatal(err)
	}
	s.cleaned = cleaned
	return s
}

func waitJob(t *testing.T, db *pgxpool.Pool, id int64, state jobs.JobState) *jobs.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := jobs.Get(context.Background(), db, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == state {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s, not %s, after 10s", id, j.State, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listed returns the ids of the jobs the list page shows, in its order.
func listed(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`<tr data-job="(\d+)">`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func ids(ids ...int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprint(id)
	}
	return out
}

// actorOf is the actor recorded in the job's history event, or "".
func actorOf(t *testing.T, db *pgxpool.Pool, id int64, event jobs.EventKind) string {
	t.Helper()
	var who string
	err := db.QueryRow(context.Background(), "SELECT coalesce(detail->>'actor', '') FROM seatbelt_job_events WHERE job_id = $1 AND event = $2 ORDER BY id DESC LIMIT 1", id, string(event)).Scan(&who)
	if err != nil {
		t.Fatalf("job %d's %s event: %v", id, event, err)
	}
	return who
}

func TestJobsListCountsAndFilters(t *testing.T) {
	t.Parallel()
	set := newJobSet(t, newDB(t))
	s := serve(t, set.db, nil)
	// The jobs up to the succeeded one created three days ago, for the age
	// filters (ids grow with creation time, as List's age bounds expect).
	old := set.succeeded
	if _, err := set.db.Exec(context.Background(), "UPDATE seatbelt_jobs SET created_at = now() - interval '3 days' WHERE id <= $1", old); err != nil {
		t.Fatal(err)
	}

	body := s.mustGet("/jobs")
	for state, want := range map[string]string{"available": "1", "running": "1", "succeeded": "1", "failed": "2", "cancelled": "1", "cleaned": "1"} {
		if !strings.Contains(body, `<td class="num" id="count-`+state+`">`+want+`</td>`) {
			t.Errorf("the count of %s jobs is not %s", state, want)
		}
	}
	if !strings.Contains(body, `href="/jobs?state=failed"`) {
		t.Error("the failed count does not link to the failed jobs")
	}
	queueRow := regexp.MustCompile(`(?s)<tr data-queue="bulk">.*?</tr>`).FindString(body)
	for _, want := range []string{`href="/jobs?queue=bulk&amp;state=available">1</a>`, `href="/jobs?queue=bulk&amp;state=cancelled">1</a>`, `<span class="muted">no</span>`} {
		if !strings.Contains(queueRow, want) {
			t.Errorf("the bulk queue's row lacks %q:\n%s", want, queueRow)
		}
	}
	if !strings.Contains(body, `<tr data-queue="default">`) {
		t.Error("the default queue has no row")
	}
	// Newest first; each row links to its job and shows its state's badge.
	want := ids(set.cancelled, set.available, set.running, old, set.cleaned, set.failed2, set.failed)
	if got := listed(body); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("listed %v, want %v", got, want)
	}
	row := regexp.MustCompile(fmt.Sprintf(`(?s)<tr data-job="%d">.*?</tr>`, set.failed)).FindString(body)
	for _, want := range []string{fmt.Sprintf(`<a href="/jobs/%d">%d</a>`, set.failed, set.failed), `<span class="state state-failed">failed</span>`,
		"<td>import</td>", "<td>default</td>", "<td>publish</td>", `<td class="num">2</td>`, "publisher rejected the batch"} {
		if !strings.Contains(row, want) {
			t.Errorf("the failed job's row lacks %q:\n%s", want, row)
		}
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"state=failed", ids(set.failed2, set.failed)},
		{"state=running", ids(set.running)},
		{"state=cleaned", ids(set.cleaned)},
		{"kind=report", ids(set.cancelled, set.available, old)},
		{"queue=bulk", ids(set.cancelled, set.available)},
		{"queue=bulk&state=available", ids(set.available)},
		{"kind=import&state=succeeded", nil},
		{"older=1d", ids(old, set.cleaned, set.failed2, set.failed)},
		{"older=2h30m", ids(old, set.cleaned, set.failed2, set.failed)},
		{"newer=1h&kind=report", ids(set.cancelled, set.available)},
		{"created_before=" + url.QueryEscape(time.Now().Add(-24*time.Hour).UTC().Format("2006-01-02T15:04")), ids(old, set.cleaned, set.failed2, set.failed)},
		{"created_after=" + url.QueryEscape(time.Now().Add(-24*time.Hour).UTC().Format("2006-01-02T15:04")) + "&state=running", ids(set.running)},
		{"created_after=" + url.QueryEscape(time.Now().Add(-24*time.Hour).UTC().Format("2006-01-02T15:04")) + "&state=failed", nil},
		{"created_after=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), nil},
		// The form sends its empty fields.
		{"state=&kind=&queue=bulk&older=&newer=&created_after=&created_before=", ids(set.cancelled, set.available)},
	} {
		body := s.mustGet("/jobs?" + tc.query)
		if got := listed(body); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: listed %v, want %v", tc.query, got, tc.want)
		}
		if len(tc.want) == 0 && !strings.Contains(body, `id="no-jobs">No job matches these filters`) {
			t.Errorf("%s: an empty list does not say the filters match nothing", tc.query)
		}
	}
	body = s.mustGet("/jobs?state=failed&kind=import")
	if !strings.Contains(body, `<option value="failed" selected>`) || !strings.Contains(body, `name="kind" value="import"`) {
		t.Error("the form does not show the filters it was given")
	}

	for _, tc := range []struct{ query, want string }{
		{"state=stuck", "give one of available, running, succeeded, failed, cancelled, cleaned"},
		{"older=soon", "give a duration like 90s, 15m, 2h30m or 7d"},
		{"newer=-5m", "not a positive duration"},
		{"created_before=yesterday", "give one like 2024-03-01T04:45"},
		{"before=x", "not a job id"},
		{"queue=" + strings.Repeat("q", 200), "the most is 128"},
	} {
		code, body, _ := s.get("/jobs?" + tc.query)
		if code != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), tc.want) {
			t.Errorf("%s: %d, want 400 saying %q\n%s", tc.query, code, tc.want, body)
		}
	}
}

func TestJobsListPages(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	batch := make([]jobs.EnqueueParams, 120)
	for i := range batch {
		kind := "sync"
		if i%10 == 0 {
			kind = "audit"
		}
		batch[i] = jobs.EnqueueParams{Kind: kind}
	}
	// Two batches a moment apart: paging crosses jobs created at the same
	// time (a batch's) and at different times.
	if _, err := jobs.EnqueueMany(ctx, db, batch[:60]); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.EnqueueMany(ctx, db, batch[60:]); err != nil {
		t.Fatal(err)
	}
	s := serve(t, db, nil)
	var got []string
	next := "/jobs"
	var pages []int
	for next != "" {
		body := s.mustGet(next)
		page := listed(body)
		pages = append(pages, len(page))
		got = append(got, page...)
		m := regexp.MustCompile(`<a href="([^"]+)" id="next">`).FindStringSubmatch(body)
		next = ""
		if m != nil {
			next = html.UnescapeString(m[1])
			if len(page) == 0 || !strings.HasSuffix(next, "before="+page[len(page)-1]) {
				t.Fatalf("the next page's link %q does not continue after the last job shown", next)
			}
		}
		if len(pages) > 1 && !strings.Contains(body, `<a href="/jobs" id="first">`) {
			t.Fatalf("page %d has no link to the newest", len(pages))
		}
		if len(pages) > 5 {
			t.Fatal("the pages do not end")
		}
	}
	if fmt.Sprint(pages) != "[50 50 20]" {
		t.Fatalf("pages of %v jobs, want [50 50 20]", pages)
	}
	all, err := jobs.List(ctx, db, &jobs.ListOpts{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, j := range all {
		want = append(want, fmt.Sprint(j.ID))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the pages listed\n%v\nwant every job once, newest first:\n%v", got, want)
	}

	// The filters carry over to the next page.
	body := s.mustGet("/jobs?kind=sync")
	m := regexp.MustCompile(`<a href="([^"]+)" id="next">`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(m[1], "kind=sync") {
		t.Fatalf("the next page of sync jobs: %v", m)
	}
	body = s.mustGet(html.UnescapeString(m[1]))
	second := listed(body)
	if len(second) != 50 {
		t.Fatalf("the second page of sync jobs has %d jobs, want 50", len(second))
	}
	for _, id := range second {
		if !strings.Contains(body, `<tr data-job="`+id+`"><td class="num"><a href="/jobs/`+id+`">`+id+`</a></td><td>sync</td>`) {
			t.Fatalf("job %s on the second page of sync jobs is not a sync job", id)
		}
	}
	// A cursor at the oldest job says there is nothing older.
	oldest := all[len(all)-1].ID
	body = s.mustGet(fmt.Sprintf("/jobs?before=%d", oldest))
	if !strings.Contains(body, fmt.Sprintf("No jobs before job %d: it was the oldest one", oldest)) {
		t.Fatalf("a cursor at the oldest job:\n%s", body)
	}

	// A filter no index serves reads a bounded number of jobs a page and
	// says where to go on; going on finds every match.
	console.SetScanPerPage(s.c, 30)
	var rare []string
	for _, j := range all {
		if j.Kind == "audit" {
			rare = append(rare, fmt.Sprint(j.ID))
		}
	}
	var found []string
	next, scanned := "/jobs?kind=audit", false
	for i := 0; next != "" && i < 20; i++ {
		body = s.mustGet(next)
		found = append(found, listed(body)...)
		scanned = scanned || strings.Contains(body, "further back »")
		next = ""
		if m := regexp.MustCompile(`<a href="([^"]+)" id="next">`).FindStringSubmatch(body); m != nil {
			next = html.UnescapeString(m[1])
		}
	}
	if !scanned || strings.Join(found, ",") != strings.Join(rare, ",") {
		t.Fatalf("paging further back through the audit jobs found %v (a page stopped at the bound: %v), want %v", found, scanned, rare)
	}
}

// A job that snoozed or retried for days has thousands of events: its page
// lists the latest, and says how many came before.
func TestJobPageListsTheLatestEvents(t *testing.T) {
	t.Parallel()
	set := newJobSet(t, newDB(t))
	s := serve(t, set.db, nil)
	if _, err := set.db.Exec(context.Background(), `INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker, detail)
		SELECT $1, now(), 'snoozed', '', 0, 'w', jsonb_build_object('n', g) FROM generate_series(1, 600) g`, set.available); err != nil {
		t.Fatal(err)
	}
	body := s.mustGet(fmt.Sprintf("/jobs/%d", set.available))
	if n := strings.Count(body, `<tr data-event="`); n != 500 {
		t.Errorf("the page lists %d events, want the latest 500", n)
	}
	// 601 events: the enqueue and 600 snoozes; the first 101 are left out.
	if !strings.Contains(body, "the 101 earlier ones are not shown") {
		t.Error("the page does not say how many events it leaves out")
	}
	if !strings.Contains(body, "&#34;n&#34;: 600}") || !strings.Contains(body, "&#34;n&#34;: 101}") || strings.Contains(body, "&#34;n&#34;: 100}") {
		t.Error("the page does not list exactly the latest 500 events")
	}
	// A job with few events lists them all, with no such note.
	if body := s.mustGet(fmt.Sprintf("/jobs/%d", set.failed)); strings.Contains(body, `id="history-earlier"`) {
		t.Error("a short history says events are left out")
	}
}

func TestJobPage(t *testing.T) {
	t.Parallel()
	set := newJobSet(t, newDB(t))
	s := serve(t, set.db, nil)

	body := s.mustGet(fmt.Sprintf("/jobs/%d", set.failed))
	for _, want := range []string{
		`<span class="state state-failed" id="state">failed</span>`, `<td id="kind">import</td>`,
		`<pre class="bad" id="last-error">publisher rejected the batch</pre>`,
		`<pre id="args">{
  &#34;fail&#34;: true
}</pre>`,
		// The results, pretty.
		`<pre data-result="fetch">{
  &#34;widgets&#34;: 2
}</pre>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the job page lacks %q", want)
		}
	}
	stage := func(name string) string {
		return regexp.MustCompile(`(?s)<tr data-stage="` + name + `" data-run="1">.*?</tr>`).FindString(body)
	}
	if fetch := stage("fetch"); !strings.Contains(fetch, `<td class="num">1</td>`) || !strings.Contains(fetch, `outcome-succeeded">succeeded<`) || !regexp.MustCompile(`<td class="num">\d+(\.\d+)?(ms|µs|s)</td>`).MatchString(fetch) {
		t.Errorf("the fetch stage in the timeline:\n%s", fetch)
	}
	if publish := stage("publish"); !strings.Contains(publish, `<td class="num">2</td>`) || !strings.Contains(publish, `outcome-failed">failed<`) || !strings.Contains(publish, "publisher rejected the batch") {
		t.Errorf("the publish stage in the timeline:\n%s", publish)
	}
	ledger := regexp.MustCompile(`(?s)<tr data-table="widgets">.*?</tr>`).FindString(body)
	if !strings.Contains(ledger, `<td class="num">2</td><td class="num">2</td><td class="num">0</td>`) || !strings.Contains(ledger, ">recorded<") {
		t.Errorf("the ledger's widgets:\n%s", ledger)
	}
	var events []string
	for _, m := range regexp.MustCompile(`<tr data-event="(\w+)">`).FindAllStringSubmatch(body, -1) {
		events = append(events, m[1])
	}
	if got := strings.Join(events, " "); got != "enqueued started succeeded started retrying started failed" {
		t.Errorf("the history shows %s", got)
	}
	if !strings.Contains(body, "&#34;error&#34;:") {
		t.Error("the history does not show the events' detail")
	}
	// A read-only console shows no actions.
	if strings.Contains(body, `name="csrf"`) || strings.Contains(body, `id="actions"`) || strings.Contains(body, "/cancel") {
		t.Error("a read-only console shows actions")
	}

	// The cleaned job: its ledger says so, and a second run follows a restart.
	body = s.mustGet(fmt.Sprintf("/jobs/%d", set.cleaned))
	if ledger := regexp.MustCompile(`(?s)<tr data-table="widgets">.*?</tr>`).FindString(body); !strings.Contains(ledger, `<td class="num">2</td><td class="num">2</td><td class="num">2</td>`) || !strings.Contains(ledger, `class="good">cleaned<`) {
		t.Errorf("the cleaned job's ledger:\n%s", ledger)
	}
	body = s.mustGet(fmt.Sprintf("/jobs/%d", set.available))
	for _, want := range []string{`id="no-stages"`, `id="no-results"`, `id="no-entities"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page of a job not started lacks %s", want)
		}
	}

	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/jobs/abc", http.StatusBadRequest, "is not a job id"},
		{"/jobs/0", http.StatusBadRequest, "is not a job id"},
		{"/jobs/99999999", http.StatusNotFound, "no job 99999999: it may have been deleted after its retention"},
		{"/jobs/99999999/cleanup", http.StatusNotFound, "no job 99999999"},
	} {
		code, body, _ := s.get(tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want %d saying %q\n%s", tc.path, code, tc.code, tc.want, body)
		}
	}
}

func TestJobActions(t *testing.T) {
	t.Parallel()
	set := newJobSet(t, newDB(t))
	s := serve(t, set.db, &console.Config{Token: testToken, Deleters: widgetDeleters})
	s.signIn("ana")
	ctx := context.Background()
	page := func(id int64) string { return fmt.Sprintf("/jobs/%d", id) }
	act := func(id int64, action string, form url.Values) (int, string, string) {
		t.Helper()
		return s.act(page(id), fmt.Sprintf("/jobs/%d/%s", id, action), form)
	}
	widgets := func(id int64) int {
		var n int
		if err := set.db.QueryRow(ctx, "SELECT count(*) FROM widgets WHERE job_id = $1", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("CancelAvailable", func(t *testing.T) {
		body := s.mustGet(page(set.available))
		if !strings.Contains(body, `action="/jobs/`+fmt.Sprint(set.available)+`/cancel"`) || strings.Contains(body, "/restart") {
			t.Fatalf("an available job's actions:\n%s", body)
		}
		code, _, loc := act(set.available, "cancel", nil)
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, page(set.available)+"?msg=") {
			t.Fatalf("cancel: %d to %q", code, loc)
		}
		if j := waitJob(t, set.db, set.available, jobs.StateCancelled); j.State != jobs.StateCancelled {
			t.Fatal(j.State)
		}
		if who := actorOf(t, set.db, set.available, jobs.EventCancelled); who != "ana (console)" {
			t.Fatalf("cancelled by %q", who)
		}
		if body := s.mustGet(loc); !strings.Contains(body, `<p class="msg" id="msg">Cancelled job `) || !strings.Contains(body, `<td class="actor">ana (console)</td>`) {
			t.Fatalf("the page after the cancel:\n%s", body)
		}
		// A second cancel is refused with the state it found.
		code, body, _ = act(set.available, "cancel", nil)
		if code != http.StatusConflict || !strings.Contains(html.UnescapeString(body), `cannot cancel job `+fmt.Sprint(set.available)+` in state "cancelled"`) {
			t.Fatalf("a second cancel: %d\n%s", code, body)
		}
	})

	t.Run("CancelRunning", func(t *testing.T) {
		code, _, loc := act(set.running, "cancel", nil)
		if code != http.StatusSeeOther || !strings.Contains(loc, "Cancel+requested") {
			t.Fatalf("cancel: %d to %q", code, loc)
		}
		if who := actorOf(t, set.db, set.running, jobs.EventCancelRequested); who != "ana (console)" {
			t.Fatalf("cancel requested by %q", who)
		}
		waitJob(t, set.db, set.running, jobs.StateCancelled)
	})

	t.Run("CleanupThenRestartFromFirst", func(t *testing.T) {
		body := s.mustGet(page(set.failed))
		for _, want := range []string{`href="/jobs/` + fmt.Sprint(set.failed) + `/cleanup" id="cleanup"`, `action="/jobs/` + fmt.Sprint(set.failed) + `/restart"`, `action="/jobs/` + fmt.Sprint(set.failed) + `/cancel"`} {
			if !strings.Contains(body, want) {
				t.Fatalf("a failed job's actions lack %s", want)
			}
		}
		if strings.Contains(body, `name="from" value="first"`) {
			t.Fatal("a job with entities left offers a restart from the first stage")
		}
		preview := s.mustGet(page(set.failed) + "/cleanup")
		if !strings.Contains(preview, `<tr data-table="widgets"><td>widgets</td><td class="num">2</td></tr>`) || !strings.Contains(preview, `id="confirm"`) {
			t.Fatalf("the cleanup preview:\n%s", preview)
		}
		if widgets(set.failed) != 2 {
			t.Fatal("the preview deleted something")
		}
		code, _, loc := s.act(page(set.failed)+"/cleanup", page(set.failed)+"/cleanup", nil)
		if code != http.StatusSeeOther || !strings.Contains(loc, "deleted+2+rows+of+widgets") {
			t.Fatalf("cleanup: %d to %q", code, loc)
		}
		if n := widgets(set.failed); n != 0 {
			t.Fatalf("%d widgets left", n)
		}
		waitJob(t, set.db, set.failed, jobs.StateCleaned)
		for _, e := range []jobs.EventKind{jobs.EventCleanupStarted, jobs.EventCleaned} {
			if who := actorOf(t, set.db, set.failed, e); who != "ana (console)" {
				t.Fatalf("%s by %q", e, who)
			}
		}
		body = s.mustGet(page(set.failed))
		if strings.Contains(body, `id="cleanup"`) || strings.Contains(body, "Restart from the failed stage") || !strings.Contains(body, `name="from" value="first"`) {
			t.Fatalf("a cleaned job's actions:\n%s", body)
		}
		code, _, _ = act(set.failed, "restart", url.Values{"from": {"first"}})
		if code != http.StatusSeeOther {
			t.Fatalf("restart from the first stage: %d", code)
		}
		if who := actorOf(t, set.db, set.failed, jobs.EventRestarted); who != "ana (console)" {
			t.Fatalf("restarted by %q", who)
		}
		var from string
		if err := set.db.QueryRow(ctx, "SELECT detail->>'from' FROM seatbelt_job_events WHERE job_id = $1 AND event = 'restarted'", set.failed).Scan(&from); err != nil || from != "first" {
			t.Fatalf("restarted from %q, %v", from, err)
		}
		// It runs again: its fetch stage makes its widgets anew.
		waitJob(t, set.db, set.failed, jobs.StateFailed)
		if n := widgets(set.failed); n != 2 {
			t.Fatalf("%d widgets after the restart, want 2", n)
		}
		body = s.mustGet(page(set.failed))
		if !strings.Contains(body, `<tr data-stage="fetch" data-run="2">`) {
			t.Fatal("the timeline does not show the run after the restart")
		}
	})

	t.Run("RestartFromTheFailedStage", func(t *testing.T) {
		code, _, loc := act(set.failed2, "restart", nil)
		if code != http.StatusSeeOther || !strings.Contains(loc, "from+the+failed+stage") {
			t.Fatalf("restart: %d to %q", code, loc)
		}
		var from, who string
		if err := set.db.QueryRow(ctx, "SELECT detail->>'from', detail->>'actor' FROM seatbelt_job_events WHERE job_id = $1 AND event = 'restarted'", set.failed2).Scan(&from, &who); err != nil || from != "failed" || who != "ana (console)" {
			t.Fatalf("restarted from %q by %q, %v", from, who, err)
		}
		if n := widgets(set.failed2); n != 2 {
			t.Fatalf("%d widgets: a restart from the failed stage ran the fetch again", n)
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		for _, tc := range []struct {
			id     int64
			action string
			form   url.Values
			code   int
			want   string
		}{
			{set.succeeded, "cancel", nil, http.StatusConflict, `cannot cancel job ` + fmt.Sprint(set.succeeded) + ` in state "succeeded"`},
			{set.succeeded, "restart", nil, http.StatusConflict, "restart it from the first stage instead"},
			{set.succeeded, "restart", url.Values{"from": {"middle"}}, http.StatusBadRequest, "give from=failed"},
			{set.cleaned, "restart", nil, http.StatusConflict, `in state "cleaned"`},
			{99999999, "cancel", nil, http.StatusNotFound, "no job 99999999"},
		} {
			code, body, _ := s.act("/jobs", fmt.Sprintf("/jobs/%d/%s", tc.id, tc.action), tc.form)
			if code != tc.code || !strings.Contains(html.UnescapeString(body), tc.want) {
				t.Errorf("%s of job %d: %d, want %d saying %q\n%s", tc.action, tc.id, code, tc.code, tc.want, body)
			}
		}
		// Cleaning up a running job is refused before anything is deleted.
		running, err := jobs.Enqueue(ctx, set.db, "long", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitJob(t, set.db, running.ID, jobs.StateRunning)
		code, body, _ := s.get(page(running.ID) + "/cleanup")
		if code != http.StatusConflict || !strings.Contains(body, "cancel it first") {
			t.Errorf("the cleanup preview of a running job: %d\n%s", code, body)
		}
		code, body, _ = s.act("/jobs", page(running.ID)+"/cleanup", nil)
		if code != http.StatusConflict || !strings.Contains(body, "cancel it first") {
			t.Errorf("the cleanup of a running job: %d\n%s", code, body)
		}
	})
}

// A console without a deleter for a table the job recorded shows what
// would be deleted and why it cannot be, and refuses the cleanup.
func TestJobCleanupWithoutDeleter(t *testing.T) {
	t.Parallel()
	set := newJobSet(t, newDB(t))
	s := serve(t, set.db, &console.Config{Token: testToken})
	s.signIn("bo")
	preview := s.mustGet(fmt.Sprintf("/jobs/%d/cleanup", set.failed))
	if !strings.Contains(preview, `<tr data-table="widgets"><td>widgets</td><td class="num">2</td></tr>`) ||
		!strings.Contains(preview, `id="problem">jobs: job `+fmt.Sprint(set.failed)+` recorded entities in tables with no deleter: widgets`) || strings.Contains(preview, `id="confirm"`) {
		t.Fatalf("the preview without a deleter:\n%s", preview)
	}
	code, body, _ := s.act(fmt.Sprintf("/jobs/%d", set.failed), fmt.Sprintf("/jobs/%d/cleanup", set.failed), nil)
	if code != http.StatusConflict || !strings.Contains(body, "no deleter: widgets") || !strings.Contains(body, "seatbelt console --delete table=column") {
		t.Fatalf("cleanup without a deleter: %d\n%s", code, body)
	}
	var n int
	if err := set.db.QueryRow(context.Background(), "SELECT count(*) FROM widgets WHERE job_id = $1", set.failed).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d widgets left, %v; want the 2, untouched", n, err)
	}
}

func TestReadOnlyConsoleRefusesJobActions(t *testing.T) {
	t.Parallel()
	set := newJobSet(t, newDB(t))
	s := serve(t, set.db, &console.Config{Deleters: widgetDeleters})
	for _, p := range []string{"/jobs", fmt.Sprintf("/jobs/%d", set.failed), fmt.Sprintf("/jobs/%d/cleanup", set.failed)} {
		if body := s.mustGet(p); strings.Contains(body, `name="csrf"`) || strings.Contains(body, `method="post"`) {
			t.Errorf("%s has a form that changes something on a read-only console", p)
		}
	}
	if body := s.mustGet(fmt.Sprintf("/jobs/%d/cleanup", set.failed)); !strings.Contains(body, "This console is read-only") {
		t.Error("the cleanup preview does not say the console is read-only")
	}
	for _, action := range []string{"cancel", "cleanup", "restart"} {
		code, body, _ := s.post(fmt.Sprintf("/jobs/%d/%s", set.failed, action), url.Values{})
		if code != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("%s on a read-only console: %d\n%s", action, code, body)
		}
	}
	j, err := jobs.Get(context.Background(), set.db, set.failed)
	if err != nil || j.State != jobs.StateFailed {
		t.Fatalf("the job after refused actions: %v %v", j, err)
	}
}

// A cleanup confirmed from a preview refuses a job that changed since the
// preview (restarted and run, say): its ledger is no longer what the
// operator saw, and nothing is deleted. The same holds for a cancel.
func TestJobActionsRefuseAJobChangedSinceThePage(t *testing.T) {
	t.Parallel()
	set := newJobSet(t, newDB(t))
	s := serve(t, set.db, &console.Config{Token: testToken, Deleters: widgetDeleters})
	s.signIn("ana")
	ctx := context.Background()
	seenRE := regexp.MustCompile(`name="seen" value="([^"]+)"`)
	preview := fmt.Sprintf("/jobs/%d/cleanup", set.failed)
	m := seenRE.FindStringSubmatch(s.mustGet(preview))
	if m == nil {
		t.Fatal("the cleanup preview's form does not carry the job as seen")
	}
	widgets := func() int {
		var n int
		if err := set.db.QueryRow(ctx, "SELECT count(*) FROM widgets WHERE job_id = $1", set.failed).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := widgets()
	// The job moves on after the preview (as a restart does).
	if _, err := set.db.Exec(ctx, "UPDATE seatbelt_jobs SET updated_at = updated_at + interval '1 second' WHERE id = $1", set.failed); err != nil {
		t.Fatal(err)
	}
	code, body, _ := s.act(preview, preview, url.Values{"seen": {m[1]}})
	if code != http.StatusConflict || !strings.Contains(body, "changed since it was looked at") {
		t.Fatalf("a cleanup confirmed after the job changed: %d, want 409 saying it changed\n%s", code, body)
	}
	if widgets() != before || before == 0 {
		t.Fatalf("the refused cleanup deleted widgets: %d left of %d", widgets(), before)
	}
	// A fresh preview confirms.
	m = seenRE.FindStringSubmatch(s.mustGet(preview))
	if code, body, _ := s.act(preview, preview, url.Values{"seen": {m[1]}}); code != http.StatusSeeOther {
		t.Fatalf("a cleanup confirmed from a fresh preview: %d\n%s", code, body)
	}
	if widgets() != 0 {
		t.Fatalf("%d widgets left after the cleanup", widgets())
	}

	page := fmt.Sprintf("/jobs/%d", set.available)
	m = seenRE.FindStringSubmatch(s.mustGet(page))
	if m == nil {
		t.Fatal("the cancel form does not carry the job as seen")
	}
	if _, err := set.db.Exec(ctx, "UPDATE seatbelt_jobs SET updated_at = updated_at + interval '1 second' WHERE id = $1", set.available); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := s.act(page, page+"/cancel", url.Values{"seen": {m[1]}}); code != http.StatusConflict {
		t.Fatalf("a cancel after the job changed: %d, want 409\n%s", code, body)
	}
	if code, body, _ := s.act(page, page+"/cancel", url.Values{"seen": {"yesterday"}}); code != http.StatusBadRequest {
		t.Fatalf("a cancel with a mangled seen field: %d, want 400\n%s", code, body)
	}
}

// The front page says where to look: the failed jobs, the schema's state,
// the consumers' lag.
func TestOverviewSaysWhereToLook(t *testing.T) {
	t.Parallel()
	set := newJobSet(t, newDB(t))
	s := serve(t, set.db, &console.Config{Sets: []migcheck.Set{eventlog.Migrations, jobs.Migrations}})
	body := s.mustGet("/")
	for _, want := range []string{
		`<a href="/jobs?state=failed" class="bad" id="failed">2 failed</a>`,
		"1 running",
		`id="schema-ok">Every set at the version expected`,
		"No deploy schedule given",
		"No consumer yet.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	if _, err := set.db.Exec(context.Background(), `UPDATE jobs_schema_migrations SET dirty = true`); err != nil {
		t.Fatal(err)
	}
	if body := s.mustGet("/"); !strings.Contains(body, `id="dirty">Dirty: jobs.`) {
		t.Errorf("the overview does not name the dirty set:\n%s", body)
	}
}
