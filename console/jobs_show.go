package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// jobView is a job's page.
type jobView struct {
	Job      *jobs.Job
	Timeline []*stageRun
	Results  []stageResult
	Ledger   []ledgerTable
	// Live is how many recorded keys are not cleaned up.
	Live    int64
	History []eventRow
	// Earlier counts the events before History, not shown: a job that
	// snoozed or retried for days has thousands.
	Earlier int
	// CleanupUnfinished is true when the last cleanup began and did not
	// end: part of what the job created is gone.
	CleanupUnfinished bool
	Cancel            *actionForm
	Restart           *actionForm
	RestartFirst      *actionForm
	// CleanupLink is the cleanup's preview, "" when it does not apply or
	// the console is read-only.
	CleanupLink string
}

// stageRun is one stage in the timeline: its attempts from the first
// start to the outcome. A restart begins a new run, and the stages run
// again in rows of their own.
type stageRun struct {
	Run      int
	Stage    string
	Attempts int
	Start    time.Time
	// End is when it succeeded, failed or was cancelled; zero while it
	// runs or waits to run again.
	End     time.Time
	Outcome string
	Error   string
}

// Duration is from the first start to the end, 0 while not ended.
func (s *stageRun) Duration() time.Duration {
	if s.End.IsZero() {
		return 0
	}
	return s.End.Sub(s.Start)
}

type stageResult struct {
	Stage  string
	Result json.RawMessage
}

// ledgerTable is a job's ledger entries of one table.
type ledgerTable struct {
	Table     string
	Entries   int64
	Keys      int64
	Cleaned   int64 // keys whose entries were cleaned up
	First     time.Time
	CleanedAt *time.Time // the latest cleanup of its entries
}

// Status says whether the table's rows were cleaned up.
func (l ledgerTable) Status() string {
	switch {
	case l.Cleaned == 0:
		return "recorded"
	case l.Cleaned == l.Keys:
		return "cleaned"
	}
	return "partly cleaned"
}

// jobHistoryLimit bounds the events a job's page lists, the latest; the
// timeline is still drawn from them all.
const jobHistoryLimit = 500

type eventRow struct {
	jobs.Event
	Actor  string
	Detail string
}

func (c *Console) jobPage(w http.ResponseWriter, r *http.Request) error {
	j, err := c.pathJob(r)
	if err != nil {
		return err
	}
	ctx, id := r.Context(), j.ID
	hist, err := jobs.History(ctx, c.db, id)
	if err != nil {
		return err
	}
	v := &jobView{Job: j, Timeline: timeline(hist), CleanupUnfinished: cleanupUnfinished(hist)}
	if v.Ledger, err = c.ledger(ctx, id); err != nil {
		return err
	}
	for _, l := range v.Ledger {
		v.Live += l.Keys - l.Cleaned
	}
	v.Results = results(j, v.Timeline)
	if len(hist) > jobHistoryLimit {
		v.Earlier = len(hist) - jobHistoryLimit
		hist = hist[v.Earlier:]
	}
	for _, e := range hist {
		row := eventRow{Event: e}
		if e.Detail != nil {
			var d struct{ Actor string }
			_ = json.Unmarshal(e.Detail, &d) // a detail that is not an object has no actor
			row.Actor = d.Actor
			row.Detail = excerpt(string(e.Detail), 400)
		}
		v.History = append(v.History, row)
	}
	c.jobActions(r, v)
	return c.render(w, r, "job.html", fmt.Sprintf("Job %d", id), v)
}

// jobActions sets the buttons that apply to the job's state (none on a
// read-only console). The jobs package checks again when one is pressed:
// the state may have moved on since the page was shown.
func (c *Console) jobActions(r *http.Request, v *jobView) {
	j := v.Job
	if c.cfg.Token == "" {
		return
	}
	if (j.State == jobs.StateAvailable || j.State == jobs.StateFailed || j.State == jobs.StateRunning) && !j.CancelRequested {
		v.Cancel = c.form(r, jobPath(j.ID, "cancel"), "Cancel", true, seenField(j))
	}
	if v.CleanupUnfinished {
		v.CleanupLink = c.jobLink(j.ID, "cleanup")
		return // nothing restarts until the cleanup is finished
	}
	if j.State != jobs.StateAvailable && j.State != jobs.StateRunning && (j.State != jobs.StateCleaned || v.Live > 0) {
		v.CleanupLink = c.jobLink(j.ID, "cleanup")
	}
	if j.State == jobs.StateFailed || j.State == jobs.StateCancelled {
		v.Restart = c.form(r, jobPath(j.ID, "restart"), "Restart from the failed stage", false, nil)
	}
	if j.State != jobs.StateAvailable && j.State != jobs.StateRunning && v.Live == 0 {
		v.RestartFirst = c.form(r, jobPath(j.ID, "restart"), "Restart from the first stage", false, map[string]string{"from": "first"})
	}
}

// timeline derives the stages' runs from the history.
func timeline(hist []jobs.Event) []*stageRun {
	var out []*stageRun
	run := 1
	current := map[string]*stageRun{} // by stage, in this run
	for _, e := range hist {
		switch e.Event {
		case jobs.EventRestarted:
			run++
			current = map[string]*stageRun{}
			continue
		case jobs.EventEnqueued, jobs.EventCleanupStarted, jobs.EventCleaned:
			continue
		}
		s := current[e.Stage]
		if s == nil {
			if e.Event != jobs.EventStarted || e.Stage == "" {
				continue // a cancel of a stage that had not started
			}
			s = &stageRun{Run: run, Stage: e.Stage, Start: e.At}
			current[e.Stage] = s
			out = append(out, s)
		}
		s.Attempts = max(s.Attempts, e.Attempt)
		s.Outcome = string(e.Event)
		s.End = time.Time{}
		switch e.Event {
		case jobs.EventStarted:
			s.Outcome = "running"
		case jobs.EventSucceeded, jobs.EventCancelled:
			s.End = e.At
		case jobs.EventFailed:
			s.End = e.At
			s.Error = detailError(e.Detail)
		case jobs.EventRetrying:
			s.Error = detailError(e.Detail)
		}
	}
	return out
}

func detailError(detail json.RawMessage) string {
	var d struct{ Error string }
	_ = json.Unmarshal(detail, &d) // no error field, no error
	return d.Error
}

// results lists the job's stage results in the order the stages ran,
// then any others by name.
func results(j *jobs.Job, runs []*stageRun) []stageResult {
	var out []stageResult
	seen := map[string]bool{}
	for _, s := range runs {
		if r, ok := j.Results[s.Stage]; ok && !seen[s.Stage] {
			out = append(out, stageResult{s.Stage, r})
			seen[s.Stage] = true
		}
	}
	var rest []string
	for st := range j.Results {
		if !seen[st] {
			rest = append(rest, st)
		}
	}
	sort.Strings(rest)
	for _, st := range rest {
		out = append(out, stageResult{st, j.Results[st]})
	}
	return out
}

// cleanupUnfinished reports whether the job's last cleanup began and did
// not end (interrupted, or running now).
func cleanupUnfinished(hist []jobs.Event) bool {
	for _, e := range slices.Backward(hist) {
		switch e.Event {
		case jobs.EventCleanupStarted:
			return true
		case jobs.EventCleaned, jobs.EventRestarted:
			return false
		}
	}
	return false
}

// ledger sums the job's ledger by table, in the order the tables were
// first recorded. A job may have recorded thousands of entries: the sums
// travel, not the keys.
func (c *Console) ledger(ctx context.Context, id int64) ([]ledgerTable, error) {
	rows, err := c.db.Query(ctx, `
SELECT table_name, count(*), coalesce(sum(cardinality(keys)), 0),
	coalesce(sum(cardinality(keys)) FILTER (WHERE deleted_at IS NOT NULL), 0), min(created_at), max(deleted_at)
FROM seatbelt_job_entities WHERE job_id = $1::bigint
GROUP BY table_name ORDER BY min(id)`, id)
	if err != nil {
		return nil, fmt.Errorf("console: reading the ledger of job %d: %w", id, err)
	}
	defer rows.Close()
	var out []ledgerTable
	for rows.Next() {
		var l ledgerTable
		if err := rows.Scan(&l.Table, &l.Entries, &l.Keys, &l.Cleaned, &l.First, &l.CleanedAt); err != nil {
			return nil, fmt.Errorf("console: reading the ledger of job %d: %w", id, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// jobIDParam reads the {id} of the request's path.
func jobIDParam(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("%q is not a job id: job ids are positive whole numbers, as in /jobs/42", s)
	}
	return id, nil
}

// jobError turns what the jobs package refuses into the page the
// operator must see: 404 for an unknown job, 409 for a job whose state or
// ledger does not allow the action (with the package's message, which says
// what to do), anything else a 500.
// pathJob reads the job the request's path names.
func (c *Console) pathJob(r *http.Request) (*jobs.Job, error) {
	id, err := jobIDParam(r)
	if err != nil {
		return nil, err
	}
	j, err := jobs.Get(r.Context(), c.db, id)
	if err != nil {
		return nil, jobError(id, err)
	}
	return j, nil
}

func jobError(id int64, err error) error {
	var se *jobs.StateError
	var de *jobs.DuplicateError
	var ue *jobs.UnregisteredTableError
	var te *jobs.TableError
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		return notFound("no job %d: it may have been deleted after its retention (jobs Config.Retention, 7 days by default, for succeeded, cancelled and cleaned jobs), or the id is wrong; find jobs on the jobs page", id)
	case errors.As(err, &ue), errors.As(err, &te):
		return conflict("%v. This console's deleters are its Config.Deleters: seatbelt console --delete table=column.", err)
	case errors.As(err, &se), errors.As(err, &de), errors.Is(err, jobs.ErrNotCleaned):
		return conflict("%v", err)
	}
	return err
}

// jobPath is the console path of job id's page ("/jobs/7"), or of its
// sub-page or action ("/jobs/7/cleanup") when sub is set.
func jobPath(id int64, sub string) string {
	p := "/jobs/" + strconv.FormatInt(id, 10)
	if sub != "" {
		p += "/" + sub
	}
	return p
}
