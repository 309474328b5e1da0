package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Newest first: cancelled export, available export, available import.
	imp := enqueue(t, b.db, "import", nil, nil)
	exp := enqueue(t, b.db, "export", nil, nil)
	gone := enqueue(t, b.db, "export", nil, nil)
	if _, err := jobs.Cancel(ctx, b.db, gone, nil); err != nil {
		t.Fatal(err)
	}
	ids := func(list []*jobs.Job) string {
		var s []string
		for _, j := range list {
			s = append(s, fmt.Sprintf("%d %s %s", j.ID, j.Kind, j.State))
		}
		return strings.Join(s, "|")
	}
	all := fmt.Sprintf("%d export cancelled|%d export available|%d import available", gone, exp, imp)
	at := func(id int64) time.Time { return jobState(t, b.db, id).CreatedAt }
	// A page cursor whose job was deleted since (by the retention).
	deleted := enqueue(t, b.db, "export", nil, nil)
	if _, err := b.db.Exec(ctx, "DELETE FROM seatbelt_jobs WHERE id = $1", deleted); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		opts *jobs.ListOpts
		want string
	}{
		{"NilOptsListsEveryJob", nil, all},
		{"NoStatesListsEveryState", &jobs.ListOpts{}, all},
		{"EmptyStatesListsEveryState", &jobs.ListOpts{States: []jobs.JobState{}}, all},
		{"States", &jobs.ListOpts{States: []jobs.JobState{"cancelled", "failed"}}, fmt.Sprintf("%d export cancelled", gone)},
		{"Kind", &jobs.ListOpts{Kind: "export"}, fmt.Sprintf("%d export cancelled|%d export available", gone, exp)},
		{"KindAndState", &jobs.ListOpts{Kind: "export", States: []jobs.JobState{"available"}}, fmt.Sprintf("%d export available", exp)},
		{"Limit", &jobs.ListOpts{Limit: 2}, fmt.Sprintf("%d export cancelled|%d export available", gone, exp)},
		{"NothingMatches", &jobs.ListOpts{Kind: "nope"}, ""},
		{"Queue", &jobs.ListOpts{Queue: "default", States: []jobs.JobState{"available"}}, fmt.Sprintf("%d export available|%d import available", exp, imp)},
		{"OtherQueue", &jobs.ListOpts{Queue: "other"}, ""},
		{"CreatedBefore", &jobs.ListOpts{CreatedBefore: at(exp)}, fmt.Sprintf("%d import available", imp)},
		{"CreatedAfter", &jobs.ListOpts{CreatedAfter: at(exp)}, fmt.Sprintf("%d export cancelled", gone)},
		{"CreatedBetween", &jobs.ListOpts{CreatedAfter: at(imp), CreatedBefore: at(gone)}, fmt.Sprintf("%d export available", exp)},
		{"CreatedBeforeAndKind", &jobs.ListOpts{CreatedBefore: at(gone), Kind: "export"}, fmt.Sprintf("%d export available", exp)},
		{"BeforeContinuesAfterTheCursor", &jobs.ListOpts{Before: gone}, fmt.Sprintf("%d export available|%d import available", exp, imp)},
		{"BeforeAndLimit", &jobs.ListOpts{Before: gone, Limit: 1}, fmt.Sprintf("%d export available", exp)},
		{"BeforeTheOldest", &jobs.ListOpts{Before: imp}, ""},
		{"BeforeAndState", &jobs.ListOpts{Before: gone, States: []jobs.JobState{"available"}, Kind: "import"}, fmt.Sprintf("%d import available", imp)},
		{"BeforeADeletedJob", &jobs.ListOpts{Before: deleted}, all},
		{"ScanStopsAtTheBound", &jobs.ListOpts{Kind: "import", Scan: 2}, ""},
		{"ScanFindsWithinTheBound", &jobs.ListOpts{Kind: "import", Scan: 3}, fmt.Sprintf("%d import available", imp)},
		{"ScanIgnoredForAnEndedState", &jobs.ListOpts{States: []jobs.JobState{"cancelled"}, Scan: 1, Before: deleted}, fmt.Sprintf("%d export cancelled", gone)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := jobs.List(ctx, b.db, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(list); got != tc.want {
				t.Fatalf("listed %q, want %q", got, tc.want)
			}
		})
	}
}

// Paging with Before visits every job once, newest id first; a Scan bound
// hands back where it stopped, and paging on from there finds every match.
func TestListPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var want []int64
	for i := range 9 {
		kind := "common"
		if i%4 == 0 {
			kind = "rare"
		}
		res, err := jobs.Enqueue(ctx, b.db, kind, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if kind == "rare" {
			want = append([]int64{res.ID}, want...)
		}
	}
	var got []int64
	var before int64
	scanned := 0
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatalf("paging does not end: %v", got)
		}
		page, err := jobs.ListPage(ctx, b.db, &jobs.ListOpts{Kind: "rare", Before: before, Limit: 2, Scan: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Jobs {
			got = append(got, j.ID)
		}
		if page.Scanned {
			scanned++
		}
		if page.Next == 0 {
			break
		}
		before = page.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages listed %v, want %v", got, want)
	}
	if scanned == 0 {
		t.Fatal("no page stopped at the Scan bound of 3 with 3 rare jobs among 9")
	}
	if _, err := jobs.ListPage(ctx, b.db, &jobs.ListOpts{Scan: -1}); !errors.Is(err, jobs.ErrInvalidConfig) {
		t.Fatalf("a negative Scan: %v, want ErrInvalidConfig", err)
	}
}

// The created bounds become an id range found by a binary search: they
// hold on a thousand jobs a minute apart.
func TestListCreatedBoundsOnManyJobs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.db.Exec(ctx, `INSERT INTO seatbelt_jobs (kind, args, run_at, created_at, updated_at)
SELECT 'k', '{}', now(), timestamptz '2026-01-01' + g * interval '1 minute', now() FROM generate_series(1, 1000) g`); err != nil {
		t.Fatal(err)
	}
	at := func(min int) time.Time { return time.Date(2026, 1, 1, 0, min, 0, 0, time.UTC) }
	for _, tc := range []struct {
		before, after time.Time
		first, last   int // the minutes of the newest and oldest jobs listed
		n             int
	}{
		{before: at(500), first: 499, last: 400, n: 100},
		{after: at(900), first: 1000, last: 901, n: 100},
		{before: at(300), after: at(295), first: 299, last: 296, n: 4},
		{before: at(1), n: 0},
		{after: at(5000), n: 0},
	} {
		list, err := jobs.List(ctx, b.db, &jobs.ListOpts{CreatedBefore: tc.before, CreatedAfter: tc.after})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != tc.n {
			t.Fatalf("before %v after %v: %d jobs, want %d", tc.before, tc.after, len(list), tc.n)
		}
		if tc.n > 0 && (!list[0].CreatedAt.Equal(at(tc.first)) || !list[len(list)-1].CreatedAt.Equal(at(tc.last))) {
			t.Fatalf("before %v after %v: from %v to %v, want %v to %v", tc.before, tc.after, list[0].CreatedAt, list[len(list)-1].CreatedAt, at(tc.first), at(tc.last))
		}
	}
}
