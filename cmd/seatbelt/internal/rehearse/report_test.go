package rehearse

import (
	"errors"
	"strings"
	"testing"
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
	for _, tc := range []struct {
		name   string
		res    phaseResult
		failed []Failure
		cause  string
		says   string
	}{
		{"quiet deploy", phaseResult{name: PhaseDeploy}, nil, "", ""},
		{"migrate step failed", phaseResult{name: PhaseMigrate, err: errors.New("exit status 1")}, nil, CauseSchema, "migrations failed"},
		{"rollback never ready", phaseResult{name: PhaseRollback, err: errors.New("not ready")}, nil, CauseSchema, "old build does not start on the new schema"},
		{"deploy never ready", phaseResult{name: PhaseDeploy, err: errors.New("not ready")}, nil, CauseService, "not ready"},
		{"old build crashes a phase after the migration", phaseResult{name: PhaseDeploy, restarts: 1, oldRestarts: 1}, nil, CauseSchema, "old build crashed 1 times"},
		{"new build crashes", phaseResult{name: PhaseKills, restarts: 2}, nil, CauseService, "crashed 2 times"},
		{"old build crashes before anything changed", phaseResult{name: PhaseOld, restarts: 1, oldRestarts: 1}, nil, CauseService, "crashed"},
		{"5xx while old serves the new schema", phaseResult{name: PhaseMigrate}, []Failure{oldServer, oldServer}, CauseSchema, "removed or changed something the old build uses"},
		{"the old build's 5xx during the deploy", phaseResult{name: PhaseDeploy}, []Failure{oldServer, oldServer, newServer}, CauseSchema, "(old-1)"},
		{"dropped requests while the new build stops", phaseResult{name: PhaseRollback}, []Failure{transport, transport, oldServer}, CauseShutdown, "the new build was stopped"},
		{"dropped requests while the old build stops", phaseResult{name: PhaseDeploy}, []Failure{oldTransport}, CauseShutdown, "the old build was stopped"},
		{"a missing field on the new build", phaseResult{name: PhaseDeploy}, []Failure{check, check, transport}, CauseEndpoint, "add new endpoints"},
		{"a removed route", phaseResult{name: PhaseRedeploy}, []Failure{client}, CauseEndpoint, "404"},
		{"the new build 500s on its schema", phaseResult{name: PhaseDeploy}, []Failure{newServer, newServer, client}, CauseService, "server error"},
		{"no answer outside a rollout", phaseResult{name: PhaseKills}, []Failure{transport}, CauseService, "no answer"},
		{"failures before anything changed", phaseResult{name: PhaseOld}, []Failure{client}, CauseService, "scenario is wrong"},
	} {
		cause, reason := judgePhase(tc.res, tc.failed, "old", "new")
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
