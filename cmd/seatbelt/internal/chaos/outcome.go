package chaos

import (
	"fmt"
	"time"
)

// Result is what became of one scheduled moment.
type Result string

// Results, also the values of the "outcome" label on
// seatbelt_chaos_actions_total.
const (
	// ResultDryRun: the checks passed and the action would have run.
	ResultDryRun Result = "dry_run"
	// ResultSuccess: the action exited 0 and the verification passed.
	ResultSuccess Result = "success"
	// ResultFailed: the action exited non-zero or timed out.
	ResultFailed Result = "failed"
	// ResultVerifyFailed: the action ran but the verification did not pass.
	ResultVerifyFailed Result = "verify_failed"
	// ResultSkipped: a precondition said no; nothing ran and the moment
	// does not count toward the minimum interval or the daily maximum.
	ResultSkipped Result = "skipped"
)

// Results lists every Result, for metrics that should show zeros.
var Results = []Result{ResultDryRun, ResultSuccess, ResultFailed, ResultVerifyFailed, ResultSkipped}

// Outcome records one scheduled moment.
type Outcome struct {
	// Time is the scheduled moment.
	Time time.Time `json:"time"`
	// Action is the command, as given.
	Action string `json:"action"`
	// Result is what happened.
	Result Result `json:"result"`
	// Reason explains a skip or a failure.
	Reason string `json:"reason,omitempty"`
	// ExitCode is the action's exit code (-1 if it did not start or was
	// killed); 0 in a dry run or a skip.
	ExitCode int `json:"exitCode"`
	// Duration is how long the action and its verification took.
	Duration time.Duration `json:"duration"`
	// Output is the tail of the action's combined output.
	Output string `json:"output,omitempty"`
}

// Text is a one-line summary, used as the webhook's Slack-compatible text.
func (o Outcome) Text() string {
	s := fmt.Sprintf("seatbelt chaos: %s at %s: %s", o.Result, o.Time.UTC().Format(time.RFC3339), o.Action)
	if o.Result == ResultSuccess || o.Result == ResultFailed || o.Result == ResultVerifyFailed {
		s += fmt.Sprintf(" (exit %d, %v)", o.ExitCode, o.Duration.Round(time.Millisecond))
	}
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	return s
}
