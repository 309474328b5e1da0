package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// startConsole runs "seatbelt console" in-process on a free port with args
// and returns its base URL; the console stops at the end of the test.
func startConsole(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"console", "--addr", "127.0.0.1:0"}, args...), pw, &stderr)
		pw.Close()
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("seatbelt console exited %d: %s", code, stderr.String())
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err != nil {
		cancel()
		t.Fatalf("seatbelt console printed no address: %v (exit %d) %s", err, <-done, stderr.String())
	}
	i := strings.Index(line, "://")
	if i < 0 {
		t.Fatalf("seatbelt console's first line has no URL: %q", line)
	}
	start := strings.LastIndex(line[:i], " ") + 1
	return strings.TrimSuffix(strings.Fields(line[start:])[0], "/")
}

// browser starts Debian's Chromium headless for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the console's browser test drives a real Chromium: install it (apt-get install -y chromium; .ci/run does): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1280, 900),
		chromedp.NoSandbox) // CI runs as root, where Chromium's sandbox refuses to start
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser, which lives as long as its
	// context: no timeout on that one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// shots saves full-page screenshots: into $SEATBELT_CONSOLE_SCREENSHOTS when
// set (the README's pictures come from there), else into a temporary
// folder.
type shots struct {
	t   *testing.T
	dir string
}

func (s shots) take(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		s.t.Fatalf("screenshot %s is not a PNG (%d bytes)", name, len(png))
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// TestConsoleInABrowser signs in to "seatbelt console" in a real headless
// Chromium, cleans up a failed job and reverts a stream through the pages'
// own links and buttons, and checks the database after each.
func TestConsoleInABrowser(t *testing.T) {
	if testing.Short() {
		// .ci/run's query-mode passes use -short; the console's SQL runs
		// in those modes in the console package's own tests, and the page
		// a browser runs does not change with the mode.
		t.Skip("drives a browser; go test without -short runs it")
	}
	t.Parallel()
	ctx := t.Context()
	url := migtest.NewURL(t, eventlog.Migrations, jobs.Migrations)
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Exec(ctx, `CREATE TABLE widgets (id bigserial PRIMARY KEY, job bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	jobID := failedJobWithWidgets(t, db)
	stream := eventlog.Stream{Type: "order", ID: "A-1"}
	for i, w := range []string{"v1.0", "v1.0", "v1.1"} {
		st, err := eventlog.New(db, &eventlog.Config{Writer: w})
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.Append(ctx, stream, []eventlog.NewRecord{{Data: json.RawMessage(fmt.Sprintf(`{"status":%q,"total_cents":%d}`, []string{"new", "paid", "lost"}[i], 100*(i+1)))}}, nil)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
	}

	const token = "browser-test-token-0123456789"
	base := startConsole(t, "--database-url", url, "--token", token, "--delete", "widgets=id",
		"--chaos-config", writeChaosConfig(t), "--chaos-seed", "7", "--chaos-state", filepath.Join(t.TempDir(), "chaos.json"))
	b := browser(t)
	dir := os.Getenv("SEATBELT_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := shots{t, dir}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b, steps...); err != nil {
			page, _ := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage:\n%s", what, err, page)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// Sign in: every page sends the browser to the form first.
	run("sign in",
		chromedp.Navigate(base+"/jobs"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="token"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "ana"),
		chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), token),
		chromedp.Click(chromedp.CSS(`form.login button`)),
		chromedp.WaitVisible(chromedp.CSS(`#operator`)),
	)
	if who := text("#operator"); who != "ana" {
		t.Fatalf("signed in as %q, want ana", who)
	}
	shot.take(b, "jobs")
	run("the overview", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#overview`)))
	if failed := text("#failed"); failed != "1 failed" {
		t.Fatalf("the overview says %q, want the one failed job", failed)
	}
	shot.take(b, "overview")

	// Clean up the failed job: its page, the preview, the confirmation.
	id := fmt.Sprint(jobID)
	run("the job's cleanup preview",
		chromedp.Navigate(base+"/jobs/"+id),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/jobs/`+id+`/cleanup"]`)),
	)
	shot.take(b, "job")
	run("cleanup",
		chromedp.Click(chromedp.CSS(`a[href$="/jobs/`+id+`/cleanup"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/jobs/`+id+`/cleanup"] button`)),
	)
	if preview := text("main"); !strings.Contains(preview, "widgets") || !strings.Contains(preview, "3") {
		t.Fatalf("the cleanup preview does not name the 3 widgets:\n%s", preview)
	}
	shot.take(b, "job-cleanup")
	run("confirm the cleanup",
		chromedp.Click(chromedp.CSS(`form[action$="/jobs/`+id+`/cleanup"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#msg`)),
	)
	var widgets int
	var state string
	if err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM widgets), (SELECT state FROM seatbelt_jobs WHERE id = $1)`, jobID).Scan(&widgets, &state); err != nil {
		t.Fatal(err)
	}
	if widgets != 0 || state != string(jobs.StateCleaned) {
		t.Fatalf("after the cleanup from the browser: %d widgets left, job %s; want 0 and cleaned", widgets, state)
	}
	hist, err := jobs.History(ctx, db, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if !historyHasActor(hist, "ana (console)") {
		t.Fatalf("the job's history does not record the operator: %+v", hist)
	}

	// Revert the stream to its first version.
	sp := base + "/events/streams/order/A-1"
	run("the stream's page",
		chromedp.Navigate(sp),
		chromedp.WaitVisible(chromedp.CSS(`a[href*="/events/revert/"][href*="to=1"]`)),
	)
	shot.take(b, "stream")
	run("revert to v1",
		chromedp.Click(chromedp.CSS(`a[href*="/events/revert/"][href*="to=1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action*="/events/revert/"] button`)),
		chromedp.SendKeys(chromedp.CSS(`form[action*="/events/revert/"] input[name="reason"]`), "lost by a bad build"),
		chromedp.Click(chromedp.CSS(`form[action*="/events/revert/"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#msg`)),
	)
	st, err := eventlog.New(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	latest, err := st.Latest(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	_ = json.Unmarshal(latest.Data, &data)
	if latest.Version != 4 || latest.RevertOf != 1 || data["status"] != "new" || latest.Actor != "ana (console)" || latest.Reason != "lost by a bad build" {
		t.Fatalf("after the revert from the browser the stream is at %+v, data %s; want v4 restoring v1, by ana (console)", latest, latest.Data)
	}

	for _, p := range []string{"schema", "events", "deploys"} {
		run("the "+p+" page", chromedp.Navigate(base+"/"+p), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		shot.take(b, p)
	}
	if chart := text("main"); !strings.Contains(chart, "Europe/Berlin") {
		t.Fatalf("the deploys page does not show the chaos schedule of the config given:\n%s", chart)
	}
}

// failedJobWithWidgets runs a job whose first stage creates 3 widgets and
// whose second fails, and returns its id.
func failedJobWithWidgets(t *testing.T, db *pgxpool.Pool) int64 {
	t.Helper()
	ctx := t.Context()
	kind := jobs.Kind{Name: "import", Stages: []jobs.Stage{
		{Name: "create", Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			for range 3 {
				var id int64
				if err := tx.QueryRow(ctx, `INSERT INTO widgets (job) VALUES ($1) RETURNING id`, r.JobID()).Scan(&id); err != nil {
					return err
				}
				if err := r.Track(ctx, "widgets", id); err != nil {
					return err
				}
			}
			return nil
		}},
		{Name: "publish", MaxAttempts: 1, Run: func(context.Context, *jobs.StageRun) error {
			return errors.New("the partner refused the batch")
		}},
	}}
	c, err := jobs.NewClient(db, &jobs.Config{PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Register(kind); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	res, err := jobs.Enqueue(ctx, db, "import", map[string]string{"file": "march.csv"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitJobState(t, db, res.ID, jobs.StateFailed)
	return res.ID
}

func historyHasActor(events []jobs.Event, actor string) bool {
	for _, e := range events {
		var d map[string]any
		if json.Unmarshal(e.Detail, &d) == nil && d["actor"] == actor {
			return true
		}
	}
	return false
}
