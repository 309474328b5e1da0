package jobs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

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
	if _, err := jobs.Cancel(ctx, b.db, gone); err != nil {
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
