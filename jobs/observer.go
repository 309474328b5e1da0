package jobs

import (
	"context"
	"time"
)

// Observer receives what a [Client] does, for metrics; set it as
// Config.Observer. The package jobsprom has one that exports Prometheus
// metrics, so that jobs itself does not link the Prometheus client.
//
// The client calls it from its own goroutines, concurrently and on the
// path of its work: a method must be safe for concurrent use and return
// quickly. Each method takes a struct, so fields can be added later
// without breaking an implementation.
type Observer interface {
	// ObserveJobStart is called when a job's first stage is claimed for
	// its first attempt (again after a restart from the first stage). A
	// claim commits without waiting for the disk, so a crash of the server
	// just after one can lose it, and the job's start is then observed
	// twice.
	ObserveJobStart(ctx context.Context, data JobStartData)
	// ObserveStage is called when an attempt of a stage ends, with the
	// stage's context (its span included).
	ObserveStage(ctx context.Context, data StageData)
	// ObserveRescue is called by the leader when it made stages available
	// again because their worker stopped renewing its lease.
	ObserveRescue(ctx context.Context, data RescueData)
	// ObserveStates is called by the leader with the number of jobs in
	// each state, in all and by queue, and which queues are paused, every
	// Config.LeaderInterval, and once with Leader false when this client
	// stops being the leader (or stops): from then on another client
	// reports the counts, and an observer that kept reporting these would
	// count each job twice in a sum over pods.
	ObserveStates(ctx context.Context, data StatesData)
}

// JobStartData is what [Observer.ObserveJobStart] receives.
type JobStartData struct {
	JobID int64
	Kind  string
	// Stage is the job's first stage.
	Stage string
	// Latency is the time from the job's run-at to its claim, on
	// Config.Now: how long a due job waited for a worker.
	Latency time.Duration
}

// StageData is what [Observer.ObserveStage] receives.
type StageData struct {
	JobID   int64
	Kind    string
	Stage   string
	Attempt int
	// Outcome is how the attempt ended: "succeeded" (its completion was
	// written), "failed" (Run returned an error), "released" (the client
	// stopped; the stage runs again elsewhere without using an attempt),
	// "cancelled" (the job was cancelled), "snoozed" (Run returned
	// [Snooze]; the stage runs again later without using an attempt),
	// "lease_lost" (another attempt owns the stage) or "rejected" (Run
	// succeeded but its completion could not be written).
	Outcome string
	// Duration is the time the stage's Run took.
	Duration time.Duration
	// Err is what the attempt ended with: Run's error, or the completion's
	// when "rejected". Nil when it succeeded.
	Err error
	// Retrying is true when the attempt failed and the stage was scheduled
	// to run again after its backoff; false when that was its last attempt.
	Retrying bool
}

// RescueData is what [Observer.ObserveRescue] receives.
type RescueData struct {
	// Stages is how many stages were made available again (or cancelled,
	// when a cancel was waiting for them).
	Stages int
}

// StatesData is what [Observer.ObserveStates] receives. Its maps are made
// anew for each call and not changed afterwards, so an observer may keep
// them.
type StatesData struct {
	// Leader is true while this client is the leader, false in the one
	// call made when it stops being the leader.
	Leader bool
	// Counts is the number of jobs in each of [States], all queues
	// together, zeros included; nil when Leader is false.
	Counts map[JobState]int64
	// Queues is each queue, by name, that has jobs or was ever paused (the
	// queues [Queues] reports), with its counts and its pause; nil when
	// Leader is false. Counted in the same statement as Counts, so the
	// queues' counts add up to it.
	Queues map[string]QueueStates
}

// QueueStates is one queue in [StatesData].
type QueueStates struct {
	// Counts is the number of the queue's jobs in each of [States], zeros
	// included.
	Counts map[JobState]int64
	// Paused is true from [PauseQueue] until [ResumeQueue]: no client
	// claims the queue's jobs. PausedAt and PausedBy say when (on the
	// clock of whoever paused it) and by whom; PausedAt is nil while the
	// queue runs.
	Paused   bool
	PausedAt *time.Time
	PausedBy string
}

// noObserver is the Observer of a client configured without one.
type noObserver struct{}

func (noObserver) ObserveJobStart(context.Context, JobStartData) {}
func (noObserver) ObserveStage(context.Context, StageData)       {}
func (noObserver) ObserveRescue(context.Context, RescueData)     {}
func (noObserver) ObserveStates(context.Context, StatesData)     {}
