package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

func TestConfigAndRegistrationErrorsNameTheField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		cfg  jobs.Config
		want string
	}{
		{jobs.Config{Lease: -time.Second}, "Config.Lease"},
		{jobs.Config{Lease: time.Second, HeartbeatInterval: 2 * time.Second}, "Config.HeartbeatInterval"},
		{jobs.Config{MaxWorkers: -1}, "Config.MaxWorkers"},
		{jobs.Config{Deleters: map[string]jobs.Deleter{"orders": nil}}, `Config.Deleters["orders"] is nil`},
	} {
		_, err := jobs.NewClient(b.db, &tc.cfg)
		if !errors.Is(err, jobs.ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc.cfg, err)
		}
	}
	if _, err := jobs.NewClient(nil, nil); !errors.Is(err, jobs.ErrBadConfig) {
		t.Errorf("nil db: %v", err)
	}
	c, err := jobs.NewClient(b.db, nil)
	if err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context, *jobs.StageRun) error { return nil }
	for _, tc := range []struct {
		kind jobs.Kind
		want string
	}{
		{jobs.Kind{}, "Kind.Name"},
		{jobs.Kind{Name: "k"}, "Kind.Stages"},
		{jobs.Kind{Name: "k", Stages: []jobs.Stage{{Run: noop}}}, "Stages[0].Name"},
		{jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a"}}}, "has no Run"},
		{jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a", Run: noop}, {Name: "a", Run: noop}}}, `two stages are named "a"`},
	} {
		if err := c.Register(tc.kind); !errors.Is(err, jobs.ErrUnknownKind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc.kind, err)
		}
	}
	if err := c.Register(jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a", Run: noop}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a", Run: noop}}}); err == nil {
		t.Error("a kind registered twice")
	}
}
