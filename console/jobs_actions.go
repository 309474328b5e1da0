package console

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// Every action passes actor(r) to the jobs package, which writes it into
// the history event it adds, and logs it.

func (c *Console) cancelJob(w http.ResponseWriter, r *http.Request) error {
	id, err := jobIDParam(r)
	if err != nil {
		return err
	}
	seen, err := seenAt(r)
	if err != nil {
		return err
	}
	state, err := jobs.Cancel(r.Context(), c.db, id, &jobs.CancelOpts{Actor: actor(r), IfUpdatedAt: seen})
	if err != nil {
		return jobError(id, err)
	}
	c.log.Info("console: job cancelled", "job", id, "operator", actor(r), "state", state)
	msg := fmt.Sprintf("Cancelled job %d.", id)
	if state == jobs.StateRunning {
		msg = fmt.Sprintf("Cancel requested for job %d: its running stage is being interrupted; the job is cancelled when the stage returns.", id)
	}
	return c.done(w, r, jobPath(id, ""), msg)
}

func (c *Console) restartJob(w http.ResponseWriter, r *http.Request) error {
	id, err := jobIDParam(r)
	if err != nil {
		return err
	}
	from := r.PostFormValue("from")
	if from != "" && from != "failed" && from != "first" {
		return badRequest("restart from %q: give from=failed (the stage that failed or was cancelled) or from=first", from)
	}
	err = jobs.Restart(r.Context(), c.db, id, &jobs.RestartOpts{FromFirst: from == "first", Actor: actor(r)})
	if err != nil {
		return jobError(id, err)
	}
	c.log.Info("console: job restarted", "job", id, "operator", actor(r), "from_first", from == "first")
	msg := fmt.Sprintf("Restarted job %d from the failed stage.", id)
	if from == "first" {
		msg = fmt.Sprintf("Restarted job %d from the first stage.", id)
	}
	return c.done(w, r, jobPath(id, ""), msg)
}

// cleanupView is the cleanup's preview: what the cleanup would delete,
// and what stops it.
type cleanupView struct {
	Job     *jobs.Job
	Tables  []tableKeys
	Entries int
	// Problem is why the cleanup cannot run now (a table without a
	// deleter, a deleter that refuses its table), "" when it can.
	Problem      string
	AlreadyClean bool
	Confirm      *actionForm
}

type tableKeys struct {
	Table string
	Keys  int
}

func (c *Console) cleanupPage(w http.ResponseWriter, r *http.Request) error {
	j, err := c.pathJob(r)
	if err != nil {
		return err
	}
	ctx, id := r.Context(), j.ID
	res, err := jobs.Cleanup(ctx, c.db, id, &jobs.CleanupOpts{DryRun: true, Deleters: c.cfg.Deleters})
	if res == nil {
		return jobError(id, err)
	}
	v := &cleanupView{Job: j, Entries: res.Entries, AlreadyClean: res.AlreadyClean, Tables: sortedKeys(res.Keys)}
	if err != nil {
		v.Problem = jobError(id, err).Error()
	} else if !res.AlreadyClean {
		// The job as read before the preview: a job that changes before the
		// confirmation (restarted, run, cleaned) is refused, not cleaned with
		// a ledger the operator never saw.
		v.Confirm = c.form(r, jobPath(id, "cleanup"), "Delete them and mark the job cleaned", true, seenField(j))
	}
	return c.render(w, r, "job_cleanup.html", fmt.Sprintf("Clean up job %d", id), v)
}

func (c *Console) cleanupJob(w http.ResponseWriter, r *http.Request) error {
	id, err := jobIDParam(r)
	if err != nil {
		return err
	}
	seen, err := seenAt(r)
	if err != nil {
		return err
	}
	res, err := jobs.Cleanup(r.Context(), c.db, id, &jobs.CleanupOpts{Deleters: c.cfg.Deleters, Actor: actor(r), IfUpdatedAt: seen})
	if err != nil {
		return jobError(id, err)
	}
	c.log.Info("console: job cleaned up", "job", id, "operator", actor(r), "keys", res.Keys, "rows", res.Rows)
	if res.AlreadyClean {
		return c.done(w, r, jobPath(id, ""), fmt.Sprintf("Job %d was already cleaned up; nothing was deleted.", id))
	}
	var parts []string
	for _, t := range sortedKeys(res.Keys) {
		if rows, ok := res.Rows[t.Table]; ok {
			parts = append(parts, fmt.Sprintf("%s rows of %s", thousands(rows), t.Table))
		} else {
			parts = append(parts, fmt.Sprintf("the rows of %s keys of %s", thousands(int64(t.Keys)), t.Table))
		}
	}
	msg := fmt.Sprintf("Cleaned up job %d: nothing was recorded to delete.", id)
	if len(parts) > 0 {
		msg = fmt.Sprintf("Cleaned up job %d: deleted %s.", id, strings.Join(parts, ", "))
	}
	return c.done(w, r, jobPath(id, ""), msg)
}

// seenField is the hidden field of an action's form that carries the job
// as the page showed it (its UpdatedAt), so the action refuses a job that
// changed since.
func seenField(j *jobs.Job) map[string]string {
	return map[string]string{"seen": j.UpdatedAt.UTC().Format(time.RFC3339Nano)}
}

// seenAt reads the seen field; a form without one (posted by hand) gets
// no check.
func seenAt(r *http.Request) (time.Time, error) {
	v := r.PostFormValue("seen")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest("seen %q is not the time the page gave; reload the page and try again", v)
	}
	return t, nil
}

func sortedKeys(keys map[string]int) []tableKeys {
	out := make([]tableKeys, 0, len(keys))
	for t, n := range keys {
		out = append(out, tableKeys{t, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}
