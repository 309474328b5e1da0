package rehearse

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rollout"
)

// Causes a report names for what broke.
const (
	CauseSchema   = "schema"   // the old build cannot run on the new schema
	CauseEndpoint = "endpoint" // the new build answers today's clients differently
	CauseShutdown = "shutdown" // a build drops requests when it is stopped
	CauseJob      = "job"      // background work lost or doubled
	CauseData     = "data"     // an acknowledged write or an invariant is wrong
	CauseService  = "service"  // a build fails on its own: not ready, crashing, 5xx
)

// Report is what a rehearsal did and what the database showed afterwards.
// Its JSON field names are the --json output's.
type Report struct {
	Old      string        `json:"old"`
	New      string        `json:"new"`
	Seed     uint64        `json:"seed"`
	Pooler   bool          `json:"pooler,omitempty"`
	Rate     int           `json:"rate"`
	Duration string        `json:"duration"`
	Phases   []PhaseReport `json:"phases"`
	// NotRun lists the phases after one whose own step failed.
	NotRun          []string          `json:"not_run,omitempty"`
	RequestsOK      int64             `json:"requests_ok"`
	RequestsFailed  int64             `json:"requests_failed"`
	RequestsDropped int64             `json:"requests_dropped"`
	RequestsSkipped int64             `json:"requests_skipped"`
	Acks            AckReport         `json:"acks"`
	Invariants      []InvariantResult `json:"invariants"`
	BuildSeconds    float64           `json:"build_seconds"`
	TotalSeconds    float64           `json:"total_seconds"`
	// OK is true when no request failed except in flight on a killed
	// replica, every phase's step worked, no replica crashed, every
	// acknowledged write is intact and every invariant holds.
	OK bool `json:"ok"`
	// Phase is the first phase that broke ("invariants" for the checks
	// after the traffic), Cause the likeliest reason, one of the Cause
	// constants, and Verdict the sentence that says so.
	Phase   string `json:"phase,omitempty"`
	Cause   string `json:"cause,omitempty"`
	Verdict string `json:"verdict"`
}

// PhaseReport is one phase.
type PhaseReport struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	OK      int64   `json:"requests_ok"`
	Failed  int64   `json:"requests_failed"`
	// Explained counts the failed requests that were in flight on a
	// replica killed with SIGKILL: expected, and not held against the
	// build.
	Explained int64 `json:"failed_explained_by_kills"`
	// Dropped counts the requests the rate made due that were not sent:
	// every client was still waiting on an answer.
	Dropped int64 `json:"requests_dropped"`
	Deploys int   `json:"deploys"`
	Kills   int   `json:"kills"`
	// Crashes lists the replicas that exited on their own (each was
	// started again).
	Crashes       []string `json:"crashes,omitempty"`
	ProbeFailures int64    `json:"probe_failures"`
	Error         string   `json:"error,omitempty"`
	// Cause is set when the phase broke.
	Cause  string `json:"cause,omitempty"`
	Reason string `json:"reason,omitempty"`
	// First lists the phase's first unexplained failures.
	First []string `json:"first_failures,omitempty"`
	// Slowest lists the phase's slowest answered requests, slowest first:
	// what the clients waited on when requests were not sent.
	Slowest []string `json:"slowest,omitempty"`
}

func describe(b Build) string {
	switch {
	case b.Ref != "":
		return fmt.Sprintf("%s (%s)", b.Name, b.Ref)
	case b.Dir != "":
		return fmt.Sprintf("%s (%s as it is)", b.Name, b.Dir)
	}
	return fmt.Sprintf("%s (%s)", b.Name, b.Binary)
}

// newReport judges the phases and the checks.
func newReport(cfg Config, results []phaseResult, r *runner, acks AckReport, invs []InvariantResult) *Report {
	rep := &Report{
		Old: describe(cfg.Old), New: describe(cfg.New), Seed: cfg.Seed, Pooler: cfg.Pooler,
		Rate: cfg.Rate, Duration: cfg.Duration.String(), Acks: acks, Invariants: invs,
	}
	rep.RequestsOK, rep.RequestsFailed, rep.RequestsDropped, rep.RequestsSkipped = r.traffic.Totals()
	names, _ := r.plan()
	failures := r.traffic.Failures()
	crashes := r.cluster.Crashes()
	for i, res := range results {
		p := PhaseReport{Name: res.name, Seconds: res.end.Sub(res.start).Seconds(), Deploys: res.deploys, Kills: res.kills,
			ProbeFailures: res.probeFailures, Dropped: r.traffic.PhaseDropped(i), Slowest: r.traffic.PhaseSlowest(i)}
		p.OK, p.Failed = r.traffic.PhaseStats(i)
		// A crash is the phase's it happened in; one after the last
		// phase's start, the last phase's.
		var phaseCrashes []rollout.Crash
		for _, c := range crashes {
			if !c.At.Before(res.start) && (i == len(results)-1 || c.At.Before(results[i+1].start)) {
				phaseCrashes = append(phaseCrashes, c)
				p.Crashes = append(p.Crashes, fmt.Sprintf("%s %s (%s)", c.At.Format("15:04:05.000"), c.Replica, c.Exit))
			}
		}
		if res.err != nil {
			p.Error = res.err.Error()
		}
		var unexplained []Failure
		for _, f := range failures {
			if f.Phase != i {
				continue
			}
			if r.explained(f) {
				p.Explained++
				continue
			}
			unexplained = append(unexplained, f)
			if len(p.First) < 5 {
				p.First = append(p.First, f.String())
			}
		}
		p.Cause, p.Reason = judgePhase(res, phaseStats{failed: unexplained, crashes: phaseCrashes, dropped: p.Dropped, sent: p.OK + p.Failed, slowest: p.Slowest}, cfg.Old.Name, cfg.New.Name)
		if p.Cause != "" && rep.Phase == "" {
			rep.Phase, rep.Cause = p.Name, p.Cause
			rep.Verdict = fmt.Sprintf("FAIL in phase %s (%s): %s", p.Name, p.Cause, p.Reason)
		}
		rep.Phases = append(rep.Phases, p)
	}
	rep.NotRun = names[len(results):]
	if rep.Phase == "" {
		rep.Cause, rep.Verdict = judgeChecks(acks, invs)
		if rep.Cause != "" {
			rep.Phase = PhaseChecks
		}
	}
	rep.OK = rep.Phase == ""
	if rep.OK {
		rep.Verdict = fmt.Sprintf("PASS: %d requests through %d phases, none failed but in flight on a killed replica; every acknowledged write intact; every invariant holds",
			rep.RequestsOK+rep.RequestsFailed, len(results))
	}
	return rep
}

// phaseStats is what a phase's traffic and replicas showed.
type phaseStats struct {
	failed        []Failure       // the failures no kill explains
	crashes       []rollout.Crash // replicas that exited on their own
	dropped, sent int64
	slowest       []string // the slowest answered requests, slowest first
}

// judgePhase names what broke in a phase, from its own step's error, its
// crashes, its unexplained failures, its dropped requests and its failed
// probes; "" if nothing did. old and new are the builds' names, as the
// proxy labels each answer with its replica's.
func judgePhase(res phaseResult, st phaseStats, old, new string) (cause, reason string) {
	failed := st.failed
	if res.err != nil {
		switch res.name {
		case PhaseMigrate:
			return CauseSchema, res.err.Error()
		case PhaseRollback:
			return CauseSchema, "the old build does not start on the new schema: " + res.err.Error()
		default:
			return CauseService, res.err.Error()
		}
	}
	// A crash is the crashed build's: the old one's, once the new schema
	// is in, is the schema's fault.
	if len(st.crashes) > 0 {
		c := st.crashes[0]
		if c.Version == old && old != new && res.name != PhaseOld {
			return CauseSchema, fmt.Sprintf("the old build crashed %d times on the new schema; first: %s %s (%s)", len(st.crashes), c.At.Format("15:04:05.000"), c.Replica, c.Exit)
		}
		return CauseService, fmt.Sprintf("replicas crashed %d times; first: %s %s (%s)", len(st.crashes), c.At.Format("15:04:05.000"), c.Replica, c.Exit)
	}
	if len(failed) == 0 {
		// Slow, not failing: more than one request in twenty not sent
		// because every client was waiting, or readiness lost.
		if st.dropped*20 > st.dropped+st.sent {
			c := CauseService
			if res.name == PhaseMigrate {
				c = CauseSchema
			}
			reason = fmt.Sprintf("%d of %d requests due were not sent: every client was waiting on an answer (a lock held by the migration, or a build too slow)", st.dropped, st.dropped+st.sent)
			if len(st.slowest) > 0 {
				reason += "; slowest: " + st.slowest[0]
			}
			return c, reason
		}
		if res.probeFailures > 0 {
			c := CauseService
			if res.name == PhaseMigrate || res.name == PhaseRollback {
				c = CauseSchema
			}
			return c, fmt.Sprintf("%d readiness probes failed on replicas in rotation and not stopping", res.probeFailures)
		}
		return "", ""
	}
	if res.name == PhaseOld {
		return CauseService, fmt.Sprintf("%d requests failed before anything changed: the old build or the scenario is wrong; first: %s", len(failed), failed[0])
	}
	stopping := res.name == PhaseDeploy || res.name == PhaseRollback || res.name == PhaseRedeploy || res.name == PhaseStorm
	byCause := map[string][]Failure{}
	for _, f := range failed {
		c := CauseEndpoint // the new build answered today's clients differently
		switch {
		case f.Class == ClassTransport && stopping:
			c = CauseShutdown
		case f.Version == old && old != new:
			c = CauseSchema // the old build, on the new schema
		case f.Class == ClassTransport || f.Class == ClassStatus && f.Status >= 500:
			c = CauseService
		}
		byCause[c] = append(byCause[c], f)
	}
	for _, c := range []string{CauseSchema, CauseEndpoint, CauseShutdown, CauseService} {
		if len(byCause[c]) > len(byCause[cause]) {
			cause = c
		}
	}
	fs := byCause[cause]
	switch cause {
	case CauseSchema:
		return cause, fmt.Sprintf("%d requests failed on the old build serving on the new schema: the migration removed or changed something the old build uses; first: %s", len(fs), fs[0])
	case CauseEndpoint:
		return cause, fmt.Sprintf("%d requests of today's clients failed on the new build: a route, a field or a status changed; add new endpoints and fields instead of changing these; first: %s", len(fs), fs[0])
	case CauseShutdown:
		who := "a replica"
		switch {
		case fs[0].Version == old:
			who = "the old build"
		case fs[0].Version == new:
			who = "the new build"
		}
		return cause, fmt.Sprintf("%d requests got no answer while %s was stopped: it must keep serving for a moment after SIGTERM and finish what is in flight; first: %s", len(fs), who, fs[0])
	default:
		return cause, fmt.Sprintf("%d requests failed with a server error or no answer; first: %s", len(fs), fs[0])
	}
}

// judgeChecks names what the database showed wrong after the traffic.
func judgeChecks(acks AckReport, invs []InvariantResult) (cause, verdict string) {
	if acks.Error != "" {
		return acks.Cause, fmt.Sprintf("FAIL after the traffic (%s): the acknowledged writes could not be looked up: %s", acks.Cause, acks.Error)
	}
	if acks.Violations > 0 {
		ex := ""
		if len(acks.Examples) > 0 {
			ex = "; first: " + acks.Examples[0]
		}
		return CauseData, fmt.Sprintf("FAIL after the traffic (data): %d of %d acknowledged writes are missing or differ in the database%s", acks.Violations, acks.Checked, ex)
	}
	for _, inv := range invs {
		if inv.Error != "" {
			return inv.Cause, fmt.Sprintf("FAIL after the traffic (%s): invariant %q could not run: %s", inv.Cause, inv.Name, inv.Error)
		}
		if !inv.OK {
			return inv.Cause, fmt.Sprintf("FAIL after the traffic (%s): invariant %q returned %d rows; first: %s", inv.Cause, inv.Name, inv.Rows, inv.Sample)
		}
	}
	return "", ""
}

// WriteTable prints the report for a person.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "rehearsal of %s -> %s, %s at %d requests/s, seed %d", r.Old, r.New, r.Duration, r.Rate, r.Seed)
	if r.Pooler {
		fmt.Fprint(w, ", behind PgBouncer in transaction mode")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\ttime\tok\tfailed\tby kills\tnot sent\tdeploys\tkills\tcrashes\tprobe fails\t")
	for _, p := range r.Phases {
		mark := "ok"
		if p.Cause != "" {
			mark = "FAIL " + p.Cause
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", p.Name, (time.Duration(p.Seconds * float64(time.Second))).Round(100*time.Millisecond),
			p.OK, p.Failed, p.Explained, p.Dropped, p.Deploys, p.Kills, len(p.Crashes), p.ProbeFailures, mark)
	}
	for _, n := range r.NotRun {
		fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\t\t\tnot run\n", n)
	}
	_ = tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "FAIL"
	}
	fmt.Fprintf(tw, "acknowledged writes intact\t%d of %d\t%s\n", r.Acks.Checked-r.Acks.Violations, r.Acks.Checked, mark(r.Acks.Violations == 0))
	for _, inv := range r.Invariants {
		if inv.Error != "" {
			fmt.Fprintf(tw, "%s\tquery failed\tFAIL\n", inv.Name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d rows\t%s\n", inv.Name, inv.Rows, mark(inv.OK))
	}
	_ = tw.Flush()
	fmt.Fprintln(w, r.Verdict)
	// The phase that broke shows its first failures; the phases after it
	// mostly repeat them (--json has them all).
	for _, p := range r.Phases {
		if p.Name != r.Phase || len(p.First) == 0 && p.Error == "" {
			continue
		}
		fmt.Fprintf(w, "first failures in %s:\n", p.Name)
		if p.Error != "" {
			fmt.Fprintln(w, "  "+p.Error)
		}
		for _, f := range p.First {
			fmt.Fprintln(w, "  "+strings.TrimSpace(f))
		}
	}
	for _, p := range r.Phases {
		if p.Name == r.Phase && p.Dropped > 0 && len(p.Slowest) > 0 {
			fmt.Fprintf(w, "slowest requests in %s:\n", p.Name)
			for _, f := range p.Slowest {
				fmt.Fprintln(w, "  "+f)
			}
		}
	}
	fmt.Fprintf(w, "builds %.1fs, whole rehearsal %.1fs\n", r.BuildSeconds, r.TotalSeconds)
}
