package console

import (
	"context"
	"time"
)

// Deploys is where the deploys page reads the deploy schedule and its past
// actions; the CLI gives one over its chaos configuration and store.
type Deploys interface {
	// Planned returns the moments planned in [from, to).
	Planned(ctx context.Context, from, to time.Time) ([]time.Time, error)
	// Past returns the most recent outcomes, newest first, at most limit.
	Past(ctx context.Context, limit int) ([]DeployOutcome, error)
}

// DeployOutcome is what became of one planned moment.
type DeployOutcome struct {
	Time     time.Time
	Action   string
	Result   string // "success", "failed", "verify_failed", "skipped", "dry_run"
	Reason   string
	ExitCode int
	Duration time.Duration
}

func (c *Console) routeDeploys() {}
