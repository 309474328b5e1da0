package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rollout"
)

// window is a span of time during which a deploy or a kill was under way.
type window struct {
	kind       string // "deploy" or "kill"
	start, end time.Time
}

// operator performs the deploys and kills at random moments, one at a time,
// as a merge-happy CEO and a flaky node would.
type operator struct {
	cluster  *rollout.Cluster
	versions []rollout.Version
	plan     []event

	mu      sync.Mutex
	windows []window
	deploys int
	kills   int
}

type event struct {
	at   time.Duration
	kind string
}

// killAftermath is how long after a SIGKILL a failed request is blamed on
// it: requests in flight on the killed replica fail at once, and the proxy
// stops routing to it at once.
const killAftermath = time.Second

func newOperator(c *rollout.Cluster, versions []rollout.Version, cfg Config, rng *rand.Rand) *operator {
	o := &operator{cluster: c, versions: versions}
	// Moments fall in the middle 80% of the run, spread by slots so that
	// a rollout (a few seconds) never runs into the end of the load.
	n := cfg.Deploys + cfg.Kills
	kinds := make([]string, 0, n)
	for range cfg.Deploys {
		kinds = append(kinds, "deploy")
	}
	for range cfg.Kills {
		kinds = append(kinds, "kill")
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	span := cfg.Duration * 8 / 10
	slot := span / time.Duration(max(n, 1))
	for i, k := range kinds {
		jitter := time.Duration(rng.Int64N(int64(slot / 2)))
		o.plan = append(o.plan, event{at: cfg.Duration/10 + time.Duration(i)*slot + jitter, kind: k})
	}
	return o
}

func (o *operator) run(ctx context.Context) error {
	start := time.Now()
	current := 0
	for _, ev := range o.plan {
		t := time.NewTimer(time.Until(start.Add(ev.at)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		w := window{kind: ev.kind, start: time.Now()}
		switch ev.kind {
		case "deploy":
			current = 1 - current
			// The rollout finishes even past the run's end: a deploy
			// abandoned half-way is not what is being shown.
			if err := o.cluster.Rollout(context.WithoutCancel(ctx), o.versions[current]); err != nil {
				return fmt.Errorf("rolling deploy to %s: %w", o.versions[current].Name, err)
			}
			w.end = time.Now()
			o.mu.Lock()
			o.deploys++
			o.mu.Unlock()
		case "kill":
			if _, err := o.cluster.KillRandom(context.WithoutCancel(ctx)); err != nil {
				return fmt.Errorf("kill: %w", err)
			}
			w.end = w.start.Add(killAftermath)
			o.mu.Lock()
			o.kills++
			o.mu.Unlock()
		}
		o.mu.Lock()
		o.windows = append(o.windows, w)
		o.mu.Unlock()
	}
	return nil
}

func (o *operator) counts() (deploys, kills int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.deploys, o.kills
}

// blame says what a failure at t coincided with: "kill", "deploy" or "".
// A kill wins over a deploy: a replica killed mid-rollout explains its
// requests' failures.
func (o *operator) blame(t time.Time) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	ws := slices.Clone(o.windows)
	for _, w := range ws {
		if w.kind == "kill" && !t.Before(w.start) && !t.After(w.end) {
			return "kill"
		}
	}
	for _, w := range ws {
		if w.kind == "deploy" && !t.Before(w.start) && !t.After(w.end) {
			return "deploy"
		}
	}
	return ""
}
