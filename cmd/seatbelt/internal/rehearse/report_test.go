package rehearse

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rollout"
)

// The verdict's cause follows from the phase and what failed in it.
func TestJudgePhase(t *testing.T) {
	t.Parallel()
	transport := Failure{Class: ClassTransport, Status: 502, Step: "read", Method: "GET", Path: "/orders/1", Message: "rollout proxy: connection refused", Replica: "new-4", Version: "new"}
	oldServer := Failure{Class: ClassStatus, Status: 500, Step: "summary", Method: "GET", Path: "/customers/c/summary", Replica: "old-1", Version: "old"}
	newServer := oldServer
	newServer.Replica, newServer.Version = "new-3", "new"
	client := Failure{Class: ClassStatus, Status: 404, Step: "read", Method: "GET", Path: "/orders/1", Replica: "new-3", Version: "new"}
	check := Failure{Class: ClassCheck, Step: "create", Method: "POST", Path: "/orders", Message: "capture version: $.version missing", Replica: "new-3", Version: "new"}
	oldTransport := transport
	oldTransport.Replica, oldTransport.Version = "old-2", "old"
	oldCrash := rollout.Crash{Replica: "old-1", Version: "old", Exit: "exit status 1"}
	newCrash := rollout.Crash{Replica: "new-3", Version: "new", Exit: "exit status 2"}
	for _, tc := range []struct {
		name  string
		res   phaseResult
		st    phaseStats
		cause string
		says  string
	}{
		{"quiet deploy", phaseResult{name: PhaseDeploy}, phaseStats{sent: 100, dropped: 4}, "", ""},
		{"a migration that blocks the service", phaseResult{name: PhaseMigrate}, phaseStats{sent: 100, dropped: 30}, CauseSchema, "30 of 130 requests due were not sent"},
		{"a stalled build names what it stalled on", phaseResult{name: PhaseDeploy}, phaseStats{sent: 100, dropped: 30, slowest: []string{"04:45:00.000 create POST /orders (new-3): 1.4s"}}, CauseService, "slowest: 04:45:00.000 create POST /orders (new-3): 1.4s"},
		{"a flapping readiness", phaseResult{name: PhaseKills, probeFailures: 3}, phaseStats{sent: 100}, CauseService, "3 readiness probes failed"},
		{"migrate step failed", phaseResult{name: PhaseMigrate, err: errors.New("the new build's migrate failed: exit status 1")}, phaseStats{}, CauseSchema, "migrate failed"},
		{"rollback never ready", phaseResult{name: PhaseRollback, err: errors.New("not ready")}, phaseStats{}, CauseSchema, "old build does not start on the new schema"},
		{"deploy never ready", phaseResult{name: PhaseDeploy, err: errors.New("not ready")}, phaseStats{}, CauseService, "not ready"},
		{"old build crashes a phase after the migration", phaseResult{name: PhaseDeploy}, phaseStats{crashes: []rollout.Crash{oldCrash}}, CauseSchema, "old build crashed 1 times"},
		{"new build crashes", phaseResult{name: PhaseKills}, phaseStats{crashes: []rollout.Crash{newCrash, newCrash}}, CauseService, "crashed 2 times"},
		{"old build crashes before anything changed", phaseResult{name: PhaseOld}, phaseStats{crashes: []rollout.Crash{oldCrash}}, CauseService, "crashed"},
		{"5xx while old serves the new schema", phaseResult{name: PhaseMigrate}, phaseStats{failed: []Failure{oldServer, oldServer}}, CauseSchema, "removed or changed something the old build uses"},
		{"the old build's 5xx during the deploy", phaseResult{name: PhaseDeploy}, phaseStats{failed: []Failure{oldServer, oldServer, newServer}}, CauseSchema, "(old-1)"},
		{"dropped requests while the new build stops", phaseResult{name: PhaseRollback}, phaseStats{failed: []Failure{transport, transport, oldServer}}, CauseShutdown, "the new build was stopped"},
		{"dropped requests while the old build stops", phaseResult{name: PhaseDeploy}, phaseStats{failed: []Failure{oldTransport}}, CauseShutdown, "the old build was stopped"},
		{"a missing field on the new build", phaseResult{name: PhaseDeploy}, phaseStats{failed: []Failure{check, check, transport}}, CauseEndpoint, "add new endpoints"},
		{"a removed route", phaseResult{name: PhaseRedeploy}, phaseStats{failed: []Failure{client}}, CauseEndpoint, "404"},
		{"the new build 500s on its schema", phaseResult{name: PhaseDeploy}, phaseStats{failed: []Failure{newServer, newServer, client}}, CauseService, "server error"},
		{"no answer outside a rollout", phaseResult{name: PhaseKills}, phaseStats{failed: []Failure{transport}}, CauseService, "no answer"},
		{"failures before anything changed", phaseResult{name: PhaseOld}, phaseStats{failed: []Failure{client}}, CauseService, "scenario is wrong"},
	} {
		cause, reason := judgePhase(tc.res, tc.st, "old", "new")
		if cause != tc.cause || !strings.Contains(reason, tc.says) {
			t.Errorf("%s: cause %q, reason %q; want %q saying %q", tc.name, cause, reason, tc.cause, tc.says)
		}
	}
}

func TestJudgeChecks(t *testing.T) {
	t.Parallel()
	if cause, v := judgeChecks(AckReport{Checked: 10}, []InvariantResult{{Name: "a", OK: true, Cause: CauseJob}}); cause != "" || v != "" {
		t.Errorf("all good: %q %q", cause, v)
	}
	cause, v := judgeChecks(AckReport{Checked: 10, Violations: 2, Examples: []string{"create o-1 v1: missing"}}, nil)
	if cause != CauseData || !strings.Contains(v, "2 of 10 acknowledged writes") || !strings.Contains(v, "o-1") {
		t.Errorf("lost writes: %q %q", cause, v)
	}
	cause, v = judgeChecks(AckReport{Checked: 10}, []InvariantResult{{Name: "a", OK: true}, {Name: "doubled", Cause: CauseJob, Rows: 3, Sample: "import=7"}})
	if cause != CauseJob || !strings.Contains(v, `invariant "doubled" returned 3 rows`) || !strings.Contains(v, "import=7") {
		t.Errorf("broken invariant: %q %q", cause, v)
	}
}

// A kill explains the transport failures of requests to its victim, or to
// no replica, while it lasts; nothing else.
func TestKillExplainsOnlyItsVictimsFailures(t *testing.T) {
	t.Parallel()
	at := time.Now()
	r := &runner{kills: []killWindow{{at: at, until: at.Add(time.Second), victim: "new-4"}}}
	fail := func(replica, class string, start time.Duration) Failure {
		return Failure{Class: class, Replica: replica, Start: at.Add(start), End: at.Add(start + 10*time.Millisecond)}
	}
	for _, tc := range []struct {
		name string
		f    Failure
		want bool
	}{
		{"in flight on the victim", fail("new-4", ClassTransport, -5*time.Millisecond), true},
		{"routed to the victim before the removal propagated", fail("new-4", ClassTransport, 300*time.Millisecond), true},
		{"no replica in rotation", fail("", ClassTransport, 500*time.Millisecond), true},
		{"another replica dropping a request", fail("old-2", ClassTransport, 100*time.Millisecond), false},
		{"the victim after the window", fail("new-4", ClassTransport, 2*time.Second), false},
		{"before the kill", fail("new-4", ClassTransport, -time.Second), false},
		{"an answer, not a dropped request", fail("new-4", ClassStatus, 100*time.Millisecond), false},
	} {
		if got := r.explained(tc.f); got != tc.want {
			t.Errorf("%s: explained %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A check query that fails is judged, not lost: a missing column is the
// schema's doing.
func TestJudgeChecksQueryErrors(t *testing.T) {
	t.Parallel()
	cause, v := judgeChecks(AckReport{Error: "column \"data\" does not exist", Cause: CauseSchema}, nil)
	if cause != CauseSchema || !strings.Contains(v, "could not be looked up") {
		t.Errorf("ack query error: %q %q", cause, v)
	}
	cause, v = judgeChecks(AckReport{}, []InvariantResult{{Name: "gaps", Cause: CauseSchema, Error: "relation \"x\" does not exist"}})
	if cause != CauseSchema || !strings.Contains(v, `invariant "gaps" could not run`) {
		t.Errorf("invariant query error: %q %q", cause, v)
	}
}
