package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

// runStage runs r's stage, ended by base's cancellation, and records its
// outcome.
func (c *Client) runStage(base context.Context, r *StageRun) {
	j := r.job
	k := c.kinds[j.kind]
	si := k.index[j.stage]
	st := k.Stages[si]
	maxAttempts := st.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = c.cfg.MaxAttempts
	}
	log := &stageLogger{c: c, j: &r.job}
	if j.cancelRequested {
		c.finishCancelled(base, j, log)
		return
	}
	if j.attempt > maxAttempts {
		// The previous attempt's worker died; it used the last attempt.
		c.failStage(base, j, maxAttempts, st, errors.New("attempts exhausted: the worker of the last attempt was lost (lease expired)"), log)
		return
	}
	timeout := st.Timeout
	if timeout == 0 {
		timeout = c.cfg.StageTimeout
	}
	ctx, cancel := context.WithTimeout(base, timeout)
	defer cancel()
	// The attributes are set after the start, and only on a span that
	// records: building them for the no-op tracer most clients run with was
	// a tenth of the client's allocations. A sampler sees the span's name,
	// which holds the kind and the stage.
	ctx, span := c.tracer.Start(ctx, k.spanNames[si])
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(
			attribute.Int64("jobs.job_id", j.id),
			attribute.String("jobs.kind", j.kind),
			attribute.String("jobs.stage", j.stage),
			attribute.Int("jobs.attempt", j.attempt),
		)
	}

	begun := time.Now()
	err := call(ctx, st, r)
	took := time.Since(begun)
	outcome := "succeeded"
	retrying := false
	cause := context.Cause(base)
	snooze := snoozeOf(err)
	if snooze != nil && snooze.Duration < 0 {
		err = fmt.Errorf("jobs: stage %q returned Snooze(%v): the delay must not be negative; fix the stage", st.Name, snooze.Duration)
		snooze = nil
	}
	if err == nil && r.rolledBack {
		err = fmt.Errorf("jobs: stage %q rolled back its transaction and returned nil, so its writes are gone; the client commits the stage's transaction with its completion: return an error to roll it back, and do not defer tx.Rollback in the stage", st.Name)
	}
	switch {
	case err == nil:
		err = c.completeStage(context.WithoutCancel(base), r)
		if err != nil {
			outcome = "rejected"
			if errors.Is(err, ErrLeaseLost) {
				log.Warn("jobs: late completion rejected; a newer attempt owns the stage", "err", err)
			} else {
				log.Error("jobs: writing the completion failed; the stage will run again after its lease", "err", err)
			}
		}
	case errors.Is(cause, ErrStopping):
		outcome = "released"
		r.rollback()
		c.release(j, log)
	case errors.Is(cause, ErrCancelled):
		outcome = "cancelled"
		r.rollback()
		c.finishCancelled(context.WithoutCancel(base), j, log)
	case errors.Is(cause, ErrLeaseLost):
		outcome = "lease_lost"
		r.rollback()
		log.Warn("jobs: stage stopped after its lease was lost", "err", err)
	case snooze != nil:
		outcome = "snoozed"
		r.rollback()
		c.snoozeStage(context.WithoutCancel(base), j, snooze.Duration, log)
	default:
		outcome = "failed"
		r.rollback()
		retrying = c.failStage(context.WithoutCancel(base), j, maxAttempts, st, err, log)
	}
	if err != nil && snooze == nil {
		span.SetStatus(codes.Error, err.Error())
		span.RecordError(err)
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("jobs.outcome", outcome))
	}
	c.cfg.Observer.ObserveStage(ctx, StageData{
		JobID: j.id, Kind: j.kind, Stage: j.stage, Attempt: j.attempt,
		Outcome: outcome, Duration: took, Err: err, Retrying: retrying,
	})
}

// snoozeOf is the [SnoozeError] in err, if any. (Its target escapes to the
// heap: declared here, it costs only the stages that return an error.)
func snoozeOf(err error) *SnoozeError {
	if err == nil {
		return nil
	}
	var s *SnoozeError
	if errors.As(err, &s) {
		return s
	}
	return nil
}

// call runs the stage, turning a panic into an error.
func call(ctx context.Context, st Stage, r *StageRun) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("jobs: stage %q panicked: %v\n%s", st.Name, p, debug.Stack())
		}
	}()
	return st.Run(ctx, r)
}

func (r *StageRun) rollback() {
	if tx, done := r.endTx(); tx != nil {
		_ = tx.Rollback(context.Background())
		done()
	}
}

// stageLogger is a stage's logger, with its job, kind, stage and attempt,
// built at its first use: most stages log nothing, and building one for
// every stage took a fifth of the client's CPU in the burn-down benchmark.
// It belongs to the stage's goroutine.
type stageLogger struct {
	c *Client
	j *claimed
	l *slog.Logger
}

func (s *stageLogger) logger() *slog.Logger {
	if s.l == nil {
		s.l = s.c.log.With("job", s.j.id, "kind", s.j.kind, "stage", s.j.stage, "attempt", s.j.attempt)
	}
	return s.l
}

func (s *stageLogger) Info(msg string, args ...any)  { s.logger().Info(msg, args...) }
func (s *stageLogger) Warn(msg string, args ...any)  { s.logger().Warn(msg, args...) }
func (s *stageLogger) Error(msg string, args ...any) { s.logger().Error(msg, args...) }
