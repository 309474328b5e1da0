package rehearse

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rollout"
	"github.com/seatbelt-go/seatbelt/internal/ctxtime"
)

// Phase names, in the order they run.
const (
	PhaseOld      = "old"
	PhaseMigrate  = "migrate"
	PhaseDeploy   = "deploy"
	PhaseKills    = "kills"
	PhaseRollback = "rollback"
	PhaseRedeploy = "redeploy"
	PhaseStorm    = "storm"
	// PhaseChecks is where a report places what the database showed after
	// the traffic: acknowledged writes and invariants.
	PhaseChecks = "invariants"
)

// phaseResult is what happened during one phase, before judging.
type phaseResult struct {
	name          string
	start, end    time.Time
	err           error // the phase's own step failed (a migrate, a rollout)
	deploys       int
	kills         int
	probeFailures int64
}

// The stand-in cluster's timing: readiness polled every probeInterval, a
// change reaching the proxy propagationDelay later.
const (
	probeInterval    = 100 * time.Millisecond
	propagationDelay = 300 * time.Millisecond
)

// killAftermath is how long after a SIGKILL a failed request to the killed
// replica is blamed on it at least: requests in flight on it fail at once,
// and the proxy routes to it until the removal propagates.
const killAftermath = time.Second

// killWindow is a SIGKILL: the failures of requests routed to victim (or
// to no replica at all) between at and until are the kill's.
type killWindow struct {
	at, until time.Time
	victim    string
}

// runner performs the phases while traffic flows.
type runner struct {
	cfg      Config
	cluster  *rollout.Cluster
	versions []rollout.Version // old, new
	traffic  *Traffic
	rng      *rand.Rand
	migrate  func(context.Context) error

	mu    sync.Mutex
	kills []killWindow // to explain failures
	phase string       // for the progress line
}

// plan is the phases to run and the time each is given.
func (r *runner) plan() ([]string, []time.Duration) {
	names := []string{PhaseOld, PhaseMigrate, PhaseDeploy, PhaseKills, PhaseRollback, PhaseRedeploy}
	d := r.cfg.Duration
	storm := r.cfg.Storm.Deploys+r.cfg.Storm.Kills > 0
	if storm {
		d /= 2
	}
	slices := make([]time.Duration, len(names))
	for i := range slices {
		slices[i] = d / time.Duration(len(names))
	}
	if storm {
		names = append(names, PhaseStorm)
		slices = append(slices, r.cfg.Duration-d)
	}
	return names, slices
}

// run drives traffic through the phases and returns what each did. A phase
// whose own step fails ends the run: what comes after it would rehearse
// something else than the deploy.
func (r *runner) run(ctx context.Context) []phaseResult {
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	trafficDone := make(chan struct{})
	go func() {
		defer close(trafficDone)
		r.traffic.Run(trafficCtx)
	}()
	progressDone := make(chan struct{})
	progressCtx, stopProgress := context.WithCancel(ctx)
	go func() {
		defer close(progressDone)
		r.progress(progressCtx)
	}()

	names, slices := r.plan()
	var results []phaseResult
	for i, name := range names {
		r.traffic.SetPhase(i)
		r.mu.Lock()
		r.phase = name
		r.mu.Unlock()
		res := r.runPhase(ctx, name, slices[i])
		results = append(results, res)
		if res.err != nil || ctx.Err() != nil {
			r.cfg.Logger.Warn("rehearse: phase failed; stopping", "phase", name, "error", res.err)
			break
		}
	}
	stopTraffic()
	<-trafficDone
	stopProgress()
	<-progressDone
	return results
}

func (r *runner) runPhase(ctx context.Context, name string, slice time.Duration) phaseResult {
	res := phaseResult{name: name, start: time.Now()}
	probes := r.cluster.ProbeFailures()
	r.cfg.Logger.Info("rehearse: phase", "phase", name)
	switch name {
	case PhaseMigrate:
		res.err = r.migrate(ctx)
	case PhaseDeploy, PhaseRedeploy:
		res.err = r.rollout(ctx, 1, &res)
	case PhaseRollback:
		res.err = r.rollout(ctx, 0, &res)
	case PhaseKills:
		res.err = r.killSpread(ctx, r.cfg.Kills, slice, &res)
	case PhaseStorm:
		res.err = r.storm(ctx, slice, &res)
	}
	if res.err == nil {
		_ = ctxtime.Sleep(ctx, time.Until(res.start.Add(slice)))
	}
	res.end = time.Now()
	res.probeFailures = r.cluster.ProbeFailures() - probes
	return res
}

func (r *runner) rollout(ctx context.Context, to int, res *phaseResult) error {
	v := r.versions[to]
	if err := r.cluster.Rollout(ctx, v); err != nil {
		return fmt.Errorf("rolling deploy to the %s build: %w", v.Name, err)
	}
	res.deploys++
	// The last replica stopped is routed to until its removal propagates:
	// what it drops belongs to this phase, not the next.
	_ = ctxtime.Sleep(ctx, propagationDelay+probeInterval)
	return nil
}

func (r *runner) kill(ctx context.Context, res *phaseResult) error {
	at := time.Now()
	victim, err := r.cluster.KillRandom(ctx)
	// The victim's requests fail until its removal has propagated, and
	// with no replica left in rotation every request fails until the
	// replacement is in (KillRandom returns then).
	until := time.Now().Add(propagationDelay)
	if d := at.Add(killAftermath); d.After(until) {
		until = d
	}
	r.mu.Lock()
	r.kills = append(r.kills, killWindow{at: at, until: until, victim: victim})
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("after a SIGKILL: %w", err)
	}
	res.kills++
	return nil
}

// killSpread kills n replicas at even moments through the phase.
func (r *runner) killSpread(ctx context.Context, n int, slice time.Duration, res *phaseResult) error {
	for i := range n {
		if ctxtime.Sleep(ctx, time.Until(res.start.Add(slice*time.Duration(i+1)/time.Duration(n+1)))) != nil {
			return nil
		}
		if err := r.kill(ctx, res); err != nil {
			return err
		}
	}
	return nil
}

// storm performs the storm's deploys (alternating builds, starting back to
// the old one) and kills at random moments spread over the phase, one at a
// time, as a merge-happy team and a flaky node would.
func (r *runner) storm(ctx context.Context, slice time.Duration, res *phaseResult) error {
	kinds := make([]string, 0, r.cfg.Storm.Deploys+r.cfg.Storm.Kills)
	for range r.cfg.Storm.Deploys {
		kinds = append(kinds, "deploy")
	}
	for range r.cfg.Storm.Kills {
		kinds = append(kinds, "kill")
	}
	r.rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	// Moments fall in the first 80% of the phase, one to a slot, so a
	// rollout (a few seconds) does not run past the traffic.
	slot := slice * 8 / 10 / time.Duration(len(kinds))
	current := 1
	for i, kind := range kinds {
		at := res.start.Add(time.Duration(i)*slot + time.Duration(r.rng.Int64N(int64(slot/2)+1)))
		if ctxtime.Sleep(ctx, time.Until(at)) != nil {
			return nil
		}
		var err error
		if kind == "deploy" {
			current = 1 - current
			err = r.rollout(ctx, current, res)
		} else {
			err = r.kill(ctx, res)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// explained says whether a failure is what a SIGKILL does: a request in
// flight on the killed replica has no answer.
func (r *runner) explained(f Failure) bool {
	if f.Class != ClassTransport {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.kills {
		if (f.Replica == k.victim || f.Replica == "") && !f.End.Before(k.at) && !f.Start.After(k.until) {
			return true
		}
	}
	return false
}

// progress shows a status line: rewritten in place every second on a
// terminal, printed every 5 seconds otherwise (a CI log).
func (r *runner) progress(ctx context.Context) {
	w := r.cfg.Progress
	start := time.Now()
	every, format := 5*time.Second, "%5.0fs  %-9s ok %d  failed %d  deploys %d  kills %d  crashes %d\n"
	if isTerminal(w) {
		every, format = time.Second, "\r%5.0fs  %-9s ok %-7d failed %-4d deploys %d  kills %d  crashes %d   "
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if every == time.Second {
				fmt.Fprintln(w)
			}
			return
		case <-t.C:
		}
		ok, failed, _, _ := r.traffic.Totals()
		r.mu.Lock()
		phase := r.phase
		r.mu.Unlock()
		fmt.Fprintf(w, format, time.Since(start).Seconds(), phase, ok, failed, r.cluster.Deploys(), r.cluster.Kills(), len(r.cluster.Crashes()))
	}
}

// isTerminal says whether w, or the writer it wraps (Unwrap), is a
// terminal.
func isTerminal(w io.Writer) bool {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
