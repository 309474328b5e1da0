package console

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// jobsPerPage is how many jobs one page of the list shows.
const jobsPerPage = 50

// defaultScanPerPage bounds the jobs one page reads to find a page of matches of
// a filter no index serves (kind, queue, age, a state not ended; see
// jobs.ListOpts.Scan), so a rare kind among millions of jobs costs a few
// milliseconds a page, and the page says how to look further back.
const defaultScanPerPage = 10000

func (c *Console) routeJobs() {
	c.mux.Handle("GET /jobs", c.page(c.jobsPage))
	c.mux.Handle("GET /jobs/{id}", c.page(c.jobPage))
	c.mux.Handle("GET /jobs/{id}/cleanup", c.page(c.cleanupPage))
	c.mux.Handle("POST /jobs/{id}/cancel", c.action(c.cancelJob))
	c.mux.Handle("POST /jobs/{id}/cleanup", c.action(c.cleanupJob))
	c.mux.Handle("POST /jobs/{id}/restart", c.action(c.restartJob))
}

// jobsList is the jobs page: counts by state and by queue, the filter
// form and one page of jobs.
type jobsList struct {
	Filter *jobFilter
	States []jobs.JobState
	Counts []countCell
	Queues []queueRow
	// MoreQueues is true when there are more than maxQueues queues.
	MoreQueues bool
	Cap        string // countCap, as shown
	// Scanned is the scan bound, as shown, when the page read as many jobs
	// as it may before it was full.
	Scanned string
	Jobs    []jobRow
	// Next is the next page's URL, "" on the last page; First the first
	// page's, "" on it.
	Next, First string
}

type jobRow struct {
	*jobs.Job
	Link  string
	Error string // the start of LastError
}

func (c *Console) jobsPage(w http.ResponseWriter, r *http.Request) error {
	f, err := c.parseJobFilter(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	page, err := jobs.ListPage(ctx, c.db, &f.opts)
	if err != nil {
		return err
	}
	list := page.Jobs
	v := &jobsList{Filter: f, States: jobs.States, Cap: thousands(countCap)}
	if v.Counts, v.Queues, v.MoreQueues, err = c.jobCounts(ctx); err != nil {
		return err
	}
	switch {
	case len(list) > jobsPerPage:
		list = list[:jobsPerPage]
		v.Next = c.link("/jobs") + f.query("before", strconv.FormatInt(list[len(list)-1].ID, 10))
	case page.Scanned:
		// The filter matched fewer than a page among the jobs one page may
		// read: say so, and go on from where the read stopped.
		v.Scanned = thousands(int64(c.scanPerPage))
		v.Next = c.link("/jobs") + f.query("before", strconv.FormatInt(page.Next, 10))
	}
	if f.opts.Before != 0 {
		v.First = c.link("/jobs") + f.query("", "")
	}
	for _, j := range list {
		v.Jobs = append(v.Jobs, jobRow{Job: j, Link: c.jobLink(j.ID, ""), Error: excerpt(j.LastError, 120)})
	}
	return c.render(w, r, "jobs.html", "Jobs", v)
}

// jobFilter is the filter form as given, and the ListOpts it means.
type jobFilter struct {
	State, Kind, Queue          string
	Older, Newer                string
	CreatedBefore, CreatedAfter string
	Before                      int64
	opts                        jobs.ListOpts
}

// Any reports whether a filter is set (the cursor aside).
func (f *jobFilter) Any() bool { return f.query("", "") != "" }

// query is the filter as a query string ("?state=failed&..."), with k=v
// added when k is set.
func (f *jobFilter) query(k, v string) string {
	q := url.Values{}
	for _, p := range [][2]string{{"state", f.State}, {"kind", f.Kind}, {"queue", f.Queue}, {"older", f.Older}, {"newer", f.Newer},
		{"created_before", f.CreatedBefore}, {"created_after", f.CreatedAfter}, {k, v}} {
		if p[0] != "" && p[1] != "" {
			q.Set(p[0], p[1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// parseJobFilter reads the list's filters from q; a value it cannot take
// is a 400 saying what it accepts.
func (c *Console) parseJobFilter(q url.Values) (*jobFilter, error) {
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	f := &jobFilter{State: get("state"), Kind: get("kind"), Queue: get("queue"), Older: get("older"), Newer: get("newer"),
		CreatedBefore: get("created_before"), CreatedAfter: get("created_after")}
	o := &f.opts
	o.Limit = jobsPerPage + 1 // one more tells whether there is a next page
	o.Scan = c.scanPerPage
	if f.State != "" {
		s, err := jobs.ParseState(f.State)
		if err != nil {
			return nil, badRequest("state %q is not a job state: give one of %s, or leave it out for every state", f.State, stateNames())
		}
		o.States = []jobs.JobState{s}
	}
	o.Kind = f.Kind
	if f.Queue != "" {
		if err := jobs.CheckQueueName(f.Queue); err != nil {
			return nil, badRequest("queue: %v", err)
		}
		o.Queue = f.Queue
	}
	// Given both an age and a time for one bound, the stricter holds.
	now := c.cfg.Now()
	if f.Older != "" {
		d, err := parseAge(f.Older)
		if err != nil {
			return nil, badRequest("older than %q: %v", f.Older, err)
		}
		o.CreatedBefore = now.Add(-d)
	}
	if f.CreatedBefore != "" {
		t, err := c.parseTime(f.CreatedBefore)
		if err != nil {
			return nil, badRequest("created before %q: %v", f.CreatedBefore, err)
		}
		if o.CreatedBefore.IsZero() || t.Before(o.CreatedBefore) {
			o.CreatedBefore = t
		}
	}
	if f.Newer != "" {
		d, err := parseAge(f.Newer)
		if err != nil {
			return nil, badRequest("newer than %q: %v", f.Newer, err)
		}
		o.CreatedAfter = now.Add(-d)
	}
	if f.CreatedAfter != "" {
		t, err := c.parseTime(f.CreatedAfter)
		if err != nil {
			return nil, badRequest("created after %q: %v", f.CreatedAfter, err)
		}
		if t.After(o.CreatedAfter) {
			o.CreatedAfter = t
		}
	}
	if b := get("before"); b != "" {
		id, err := strconv.ParseInt(b, 10, 64)
		if err != nil || id <= 0 {
			return nil, badRequest("before %q is not a job id: the next-page link sets it to the last job shown; leave it out to start from the newest", b)
		}
		f.Before, o.Before = id, id
	}
	return f, nil
}

func stateNames() string {
	names := make([]string, len(jobs.States))
	for i, s := range jobs.States {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

var daysRE = regexp.MustCompile(`^(\d+)d(.*)$`)

// parseAge reads an age: a Go duration ("90s", "15m", "2h30m") with days
// allowed in front ("7d", "1d12h").
func parseAge(s string) (time.Duration, error) {
	const accepted = "give a duration like 90s, 15m, 2h30m or 7d"
	var d time.Duration
	rest := s
	if m := daysRE.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 100000 {
			return 0, fmt.Errorf("too many days; %s", accepted)
		}
		d, rest = time.Duration(days)*24*time.Hour, m[2]
	}
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("not a duration; %s", accepted)
		}
		d += more
	}
	if d <= 0 {
		return 0, fmt.Errorf("not a positive duration; %s", accepted)
	}
	return d, nil
}

// parseTime reads a time in the console's time zone (Config.Location),
// unless it names its own: the forms parseWhen takes.
func (c *Console) parseTime(s string) (time.Time, error) {
	if t, ok := c.readTime(s); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not a time; give one like 2024-03-01T04:45 (in %s) or 2024-03-01T04:45:00Z", c.cfg.Location)
}

// thousands writes n with commas: 12,345.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// excerpt is s's first line, cut to max runes.
func excerpt(s string, max int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

// jobLink is jobPath under Config.Prefix, for a link.
func (c *Console) jobLink(id int64, sub string) string { return c.link(jobPath(id, sub)) }
