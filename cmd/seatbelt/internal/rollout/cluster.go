package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes a [Cluster]. Zero fields mean the defaults.
type Config struct {
	// ProbeInterval is how often each replica's /readyz is polled.
	// Defaults to 200 ms.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one /readyz poll. Defaults to 1 second, like
	// Kubernetes' timeoutSeconds.
	ProbeTimeout time.Duration
	// FailureThreshold is how many polls in a row must fail before a ready
	// replica counts as not ready, like the probe's failureThreshold: one
	// slow answer on a busy machine must not empty the rotation. Defaults
	// to 3.
	FailureThreshold int
	// PropagationDelay is how long a readiness change takes to reach the
	// proxy's routing table, like endpoint propagation to kube-proxy and
	// load balancers. Defaults to 500 ms.
	PropagationDelay time.Duration
	// GracePeriod is how long a replica may take to exit after SIGTERM
	// before it gets SIGKILL (terminationGracePeriodSeconds). Defaults to
	// 30 seconds.
	GracePeriod time.Duration
	// ReadyTimeout is how long a new replica may take to become ready before
	// the rollout fails (progressDeadlineSeconds). Defaults to 60 seconds.
	ReadyTimeout time.Duration
	// Output receives the replicas' stdout and stderr, each line prefixed
	// with the replica's name. Defaults to io.Discard.
	Output io.Writer
	// Logger receives one line per replica started, ready, stopped or
	// killed. Defaults to slog.Default().
	Logger *slog.Logger
	// Rand picks the replica KillRandom kills. Defaults to a random source.
	Rand *rand.Rand
	// HTTPAddrEnv and ProbeAddrEnv name the environment variables that
	// give a replica its API and probe addresses. Default to HTTP_ADDR and
	// PROBE_ADDR, the template's names.
	HTTPAddrEnv, ProbeAddrEnv string
	// ReadyPath is the readiness probe's path on the probe address.
	// Defaults to /readyz.
	ReadyPath string
	// RestartDelay is how long after a replica exits on its own (a crash,
	// not a kill or a stop) a new one of the same version starts, as the
	// kubelet restarts a container. Defaults to 1 second.
	RestartDelay time.Duration
}

func (c Config) withDefaults() Config {
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 200 * time.Millisecond
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = time.Second
	}
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = 3
	}
	if c.PropagationDelay <= 0 {
		c.PropagationDelay = 500 * time.Millisecond
	}
	if c.GracePeriod <= 0 {
		c.GracePeriod = 30 * time.Second
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 60 * time.Second
	}
	if c.Output == nil {
		c.Output = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if c.HTTPAddrEnv == "" {
		c.HTTPAddrEnv = "HTTP_ADDR"
	}
	if c.ProbeAddrEnv == "" {
		c.ProbeAddrEnv = "PROBE_ADDR"
	}
	if c.ReadyPath == "" {
		c.ReadyPath = "/readyz"
	}
	if c.RestartDelay <= 0 {
		c.RestartDelay = time.Second
	}
	return c
}

// Version is what a replica runs: a binary and its environment.
type Version struct {
	Name   string   // shown in logs and replica names, e.g. "v2"
	Binary string   // path of the executable
	Env    []string // added to the current environment
}

// Cluster is a set of replicas behind a proxy.
type Cluster struct {
	cfg   Config
	proxy *proxy

	mu       sync.Mutex
	replicas []*replica
	leaving  []*replica // removed, still routed to until that propagates
	seq      int
	crashes  []Crash
	closed   bool

	deploys       atomic.Int64
	kills         atomic.Int64
	restarts      atomic.Int64
	probeFailures atomic.Int64
}

// Start runs n replicas of v and a proxy on proxyAddr ("127.0.0.1:0" picks a
// port), and returns once every replica is in rotation.
func Start(ctx context.Context, v Version, n int, proxyAddr string, cfg *Config) (*Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("rollout: %d replicas: want at least 1", n)
	}
	var c0 Config
	if cfg != nil {
		c0 = *cfg
	}
	c := &Cluster{cfg: c0.withDefaults()}
	p, err := newProxy(proxyAddr, c.routable)
	if err != nil {
		return nil, err
	}
	c.proxy = p
	for range n {
		r, err := c.startReplica(v)
		if err == nil {
			err = c.waitInRotation(ctx, r)
		}
		if err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}

// URL is the proxy's base URL, what clients use.
func (c *Cluster) URL() string { return "http://" + c.proxy.addr() }

// Deploys and Kills count completed rollouts and KillRandom calls.
func (c *Cluster) Deploys() int64 { return c.deploys.Load() }
func (c *Cluster) Kills() int64   { return c.kills.Load() }

// Restarts counts replicas that exited on their own (crashed) and were
// started again.
func (c *Cluster) Restarts() int64 { return c.restarts.Load() }

// Crash is a replica that exited on its own.
type Crash struct {
	At      time.Time
	Replica string
	Version string
	Exit    string // how it exited, e.g. "exit status 1"
}

// Crashes lists every replica that exited on its own, in order.
func (c *Cluster) Crashes() []Crash {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.crashes)
}

// ProbeFailures counts failed readiness polls of replicas that had been
// ready and were not being stopped: what makes Kubernetes take a pod out of
// its Service.
func (c *Cluster) ProbeFailures() int64 { return c.probeFailures.Load() }

// Replica describes one replica for callers.
type Replica struct {
	Name       string
	Version    string
	ProbeURL   string
	InRotation bool
}

// Replicas lists the running replicas, oldest first.
func (c *Cluster) Replicas() []Replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Replica
	for _, r := range c.replicas {
		out = append(out, Replica{Name: r.name, Version: r.version, ProbeURL: r.probeURL, InRotation: r.routable()})
	}
	return out
}

// Rollout replaces every replica with one running v, one at a time, never
// going below the current number of replicas in rotation.
func (c *Cluster) Rollout(ctx context.Context, v Version) error {
	// The replicas to replace are looked up one at a time, not listed at
	// the start: a replica of another version that crashed and was
	// restarted meanwhile is replaced too, as the old ReplicaSet's pods
	// are. A version crashing and restarting as fast as it is replaced
	// would never run out, so the rollout gives up after some rounds.
	c.mu.Lock()
	rounds := 4 * max(len(c.replicas), 1)
	c.mu.Unlock()
	for range rounds {
		o := c.nextToReplace(v.Name)
		if o == nil {
			c.deploys.Add(1)
			return ctx.Err()
		}
		n, err := c.startReplica(v)
		if err != nil {
			return err
		}
		if err := c.waitInRotation(ctx, n); err != nil {
			c.remove(n)
			n.kill()
			return fmt.Errorf("rollout: new replica %s of %s: %w (the old replicas keep serving)", n.name, v.Name, err)
		}
		if o.exited() {
			c.remove(o) // killed or crashed meanwhile; nothing to drain
			continue
		}
		// As in Kubernetes, SIGTERM and the endpoint removal start
		// together: the proxy keeps routing to the replica for the
		// propagation delay, which the service must cover by serving on
		// for a moment after SIGTERM (graceful's ShutdownDelay).
		o.setTerminating(c.cfg.PropagationDelay)
		c.cfg.Logger.Info("rollout: terminating replica", "replica", o.name)
		o.terminate(c.cfg.GracePeriod, c.cfg.Logger)
		c.remove(o)
	}
	return fmt.Errorf("rollout: replicas of another version than %s keep coming back (crashing and restarting) after %d replacements", v.Name, rounds)
}

// nextToReplace returns the oldest replica not of version name, nil if
// none is left.
func (c *Cluster) nextToReplace(name string) *replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.replicas {
		if r.version != name {
			return r
		}
	}
	return nil
}

// KillRandom sends SIGKILL to a random replica and starts a replacement of
// the same version, as a ReplicaSet would. It returns the killed replica's
// name.
func (c *Cluster) KillRandom(ctx context.Context) (string, error) {
	c.mu.Lock()
	if len(c.replicas) == 0 {
		c.mu.Unlock()
		return "", errors.New("rollout: no replica to kill")
	}
	victim := c.replicas[c.cfg.Rand.IntN(len(c.replicas))]
	c.mu.Unlock()
	victim.kill()
	c.kills.Add(1)
	c.cfg.Logger.Info("rollout: killed replica", "replica", victim.name)
	c.remove(victim)
	n, err := c.startReplica(victim.v)
	if err != nil {
		return victim.name, err
	}
	return victim.name, c.waitInRotation(ctx, n)
}

// Close terminates every replica (SIGTERM, SIGKILL after the grace period)
// and stops the proxy.
func (c *Cluster) Close() error {
	c.mu.Lock()
	c.closed = true
	rs := slices.Clone(c.replicas)
	c.replicas = nil
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() {
			r.setTerminating(0)
			r.terminate(c.cfg.GracePeriod, c.cfg.Logger)
		})
	}
	wg.Wait()
	if c.proxy != nil {
		return c.proxy.close()
	}
	return nil
}

// remove takes r off the replica list. The proxy may still route to it
// until its removal from rotation has propagated, as a Service routes to a
// pod that died until the endpoints catch up.
func (c *Cluster) remove(r *replica) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replicas = slices.DeleteFunc(c.replicas, func(x *replica) bool { return x == r })
	if r.routable() {
		c.leaving = append(c.leaving, r)
		time.AfterFunc(c.cfg.PropagationDelay, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.leaving = slices.DeleteFunc(c.leaving, func(x *replica) bool { return x == r })
		})
	}
}

// routable lists the replicas the proxy may send a request to.
func (c *Cluster) routable() []target {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []target
	for _, r := range slices.Concat(c.replicas, c.leaving) {
		if r.routable() {
			out = append(out, target{url: r.appURL, name: r.name, version: r.version})
		}
	}
	return out
}

func (c *Cluster) waitInRotation(ctx context.Context, r *replica) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	for !r.routable() {
		if r.exited() {
			return fmt.Errorf("replica %s exited before it was ready: %v", r.name, r.exitErr())
		}
		if !c.sleep(ctx, 20*time.Millisecond) {
			return fmt.Errorf("replica %s not ready: %w", r.name, ctx.Err())
		}
	}
	c.cfg.Logger.Info("rollout: replica in rotation", "replica", r.name)
	return nil
}

func (c *Cluster) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
