package jobs

import (
	"context"
	"fmt"
	"time"
)

// Kind is a job's recipe: an ordered list of named stages. A service
// registers each kind it can run with [Client.Register].
type Kind struct {
	// Name identifies the kind in Enqueue and in the jobs table. Required.
	Name string
	// Stages run in order; each starts when the one before succeeded.
	// At least one is required and names must be unique within the kind.
	Stages []Stage
}

// Stage is one step of a [Kind].
type Stage struct {
	// Name identifies the stage in the history and in results. Required.
	// Renaming a stage is a breaking change for jobs already enqueued.
	Name string
	// Run does the stage's work. Required. Its database writes belong in
	// [StageRun.Tx] so they commit with the stage's completion; a stage
	// that must not hold a transaction records its entities with
	// [StageRun.TrackNow] before creating them.
	Run func(ctx context.Context, r *StageRun) error
	// Timeout bounds one attempt; a negative value is refused by
	// Register. Defaults to Config.StageTimeout.
	Timeout time.Duration
	// MaxAttempts is how often the stage is tried before the job fails; a
	// negative value is refused by Register. Defaults to
	// Config.MaxAttempts.
	MaxAttempts int
	// Backoff returns the wait before retry number attempt, as
	// Config.Backoff does. Defaults to Config.Backoff.
	Backoff func(attempt int) time.Duration
}

type kindReg struct {
	Kind
	index map[string]int
	// spanNames are the stages' span names, "jobs.stage kind/stage", made
	// once rather than for every run.
	spanNames []string
}

func (k *kindReg) next(stage string) string {
	i := k.index[stage]
	if i+1 < len(k.Stages) {
		return k.Stages[i+1].Name
	}
	return ""
}

// checkKind validates a kind for Register; every error wraps
// ErrInvalidConfig, names the field and says what to set.
func checkKind(k Kind) (*kindReg, error) {
	if k.Name == "" {
		return nil, fmt.Errorf("%w: Kind.Name is empty; give the kind the name its jobs are enqueued with", ErrInvalidConfig)
	}
	if err := checkText("Kind.Name", k.Name, MaxNameLen, "MaxNameLen"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if len(k.Stages) == 0 {
		return nil, fmt.Errorf("%w: kind %q: Kind.Stages is empty; give it at least one stage", ErrInvalidConfig, k.Name)
	}
	reg := &kindReg{Kind: k, index: map[string]int{}}
	reg.Stages = append([]Stage(nil), k.Stages...)
	for i, s := range reg.Stages {
		if s.Name == "" {
			return nil, fmt.Errorf("%w: kind %q: Stages[%d].Name is empty; name every stage", ErrInvalidConfig, k.Name, i)
		}
		if err := checkText("the stage name", s.Name, MaxNameLen, "MaxNameLen"); err != nil {
			return nil, fmt.Errorf("%w: kind %q: Stages[%d]: %v", ErrInvalidConfig, k.Name, i, err)
		}
		if s.Run == nil {
			return nil, fmt.Errorf("%w: kind %q: stage %q has no Run; give it the function that does the stage's work", ErrInvalidConfig, k.Name, s.Name)
		}
		if _, dup := reg.index[s.Name]; dup {
			return nil, fmt.Errorf("%w: kind %q: two stages are named %q; give each stage of a kind its own name", ErrInvalidConfig, k.Name, s.Name)
		}
		if s.Timeout < 0 {
			return nil, fmt.Errorf("%w: kind %q: stage %q: Stage.Timeout is %s; set a positive duration, or 0 for Config.StageTimeout", ErrInvalidConfig, k.Name, s.Name, s.Timeout)
		}
		if s.MaxAttempts < 0 {
			return nil, fmt.Errorf("%w: kind %q: stage %q: Stage.MaxAttempts is %d; set a positive number, or 0 for Config.MaxAttempts", ErrInvalidConfig, k.Name, s.Name, s.MaxAttempts)
		}
		reg.index[s.Name] = i
		reg.spanNames = append(reg.spanNames, "jobs.stage "+k.Name+"/"+s.Name)
	}
	return reg, nil
}
