package rollout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// replica is one running process of a Version and what the proxy knows of it.
type replica struct {
	name     string
	version  string
	v        Version
	cmd      *exec.Cmd
	appURL   *url.URL
	probeURL string

	mu          sync.Mutex
	inRotation  bool // what the proxy sees: readiness, PropagationDelay late
	terminating bool
	stopping    bool // killed or terminated on purpose: an exit is not a crash
	done        chan struct{}
	err         error
	stopPoll    context.CancelFunc
}

func (c *Cluster) startReplica(v Version) (*replica, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("rollout: cluster closed")
	}
	c.seq++
	name := fmt.Sprintf("%s-%d", v.Name, c.seq)
	c.mu.Unlock()

	appPort, err1 := freePort()
	probePort, err2 := freePort()
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("rollout: no free port: %v %v", err1, err2)
	}
	r := &replica{
		name:     name,
		version:  v.Name,
		v:        v,
		appURL:   &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", appPort)},
		probeURL: fmt.Sprintf("http://127.0.0.1:%d", probePort),
		done:     make(chan struct{}),
	}
	cmd := exec.Command(v.Binary)
	cmd.Env = append(os.Environ(), v.Env...)
	cmd.Env = append(cmd.Env,
		fmt.Sprintf("%s=127.0.0.1:%d", c.cfg.HTTPAddrEnv, appPort),
		fmt.Sprintf("%s=127.0.0.1:%d", c.cfg.ProbeAddrEnv, probePort))
	out := &prefixWriter{w: c.cfg.Output, prefix: name + " | "}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rollout: start %s: %w", v.Binary, err)
	}
	r.cmd = cmd
	ctx, cancel := context.WithCancel(context.Background())
	r.stopPoll = cancel
	go func() {
		err := cmd.Wait()
		r.mu.Lock()
		r.err = err
		crashed := !r.stopping
		r.mu.Unlock()
		close(r.done)
		// The endpoints learn of the exit only after the propagation
		// delay; until then requests routed here are refused.
		r.setTerminating(c.cfg.PropagationDelay)
		if crashed {
			c.restart(r)
		}
	}()
	go r.poll(ctx, c.cfg, &c.probeFailures)

	c.mu.Lock()
	if c.closed {
		// Closed while this one started: Close did not see it.
		c.mu.Unlock()
		r.kill()
		return nil, fmt.Errorf("rollout: cluster closed")
	}
	c.replicas = append(c.replicas, r)
	c.mu.Unlock()
	c.cfg.Logger.Info("rollout: replica started", "replica", name, "pid", cmd.Process.Pid)
	return r, nil
}

// poll is the endpoints controller for one replica: it probes /readyz and
// applies each change to the routing table after the propagation delay.
func (r *replica) poll(ctx context.Context, cfg Config, probeFailures *atomic.Int64) {
	client := &http.Client{Timeout: cfg.ProbeTimeout}
	last, failures := false, 0
	t := time.NewTicker(cfg.ProbeInterval)
	defer t.Stop()
	for {
		resp, err := client.Get(r.probeURL + cfg.ReadyPath)
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if ok {
			failures = 0
		} else {
			failures++
			if last && !r.isStopping() {
				probeFailures.Add(1)
			}
		}
		ready := ok || (last && failures < cfg.FailureThreshold)
		if ready != last {
			last = ready
			time.AfterFunc(cfg.PropagationDelay, func() {
				r.mu.Lock()
				defer r.mu.Unlock()
				if !r.terminating {
					r.inRotation = ready
				}
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-r.done:
			return
		case <-t.C:
		}
	}
}

// restart replaces a replica that exited on its own with a new one of the
// same version after the restart delay, unless the cluster is closing.
func (c *Cluster) restart(r *replica) {
	c.cfg.Logger.Warn("rollout: replica exited on its own; restarting it", "replica", r.name, "exit", fmt.Sprint(r.exitErr()))
	c.mu.Lock()
	c.crashes = append(c.crashes, Crash{At: time.Now(), Replica: r.name, Version: r.version, Exit: fmt.Sprint(r.exitErr())})
	c.mu.Unlock()
	time.AfterFunc(c.cfg.RestartDelay, func() {
		// Only a replica still the cluster's comes back: one a rollout
		// or a kill has replaced meanwhile is gone for good.
		c.mu.Lock()
		owned := slices.Contains(c.replicas, r)
		c.mu.Unlock()
		if !owned {
			return
		}
		c.remove(r)
		if _, err := c.startReplica(r.v); err != nil {
			c.cfg.Logger.Warn("rollout: restart failed", "replica", r.name, "error", err)
			return
		}
		c.restarts.Add(1)
	})
}

func (r *replica) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping || r.terminating
}

func (r *replica) markStopping() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
}

func (r *replica) routable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inRotation
}

func (r *replica) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *replica) exitErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// setTerminating takes the replica out of rotation; like an endpoint
// removal, the proxy sees it only after the propagation delay.
func (r *replica) setTerminating(propagation time.Duration) {
	r.mu.Lock()
	r.terminating = true
	r.mu.Unlock()
	time.AfterFunc(propagation, func() {
		r.mu.Lock()
		r.inRotation = false
		r.mu.Unlock()
	})
}

// terminate sends SIGTERM and, after grace, SIGKILL; it returns once the
// process exited.
func (r *replica) terminate(grace time.Duration, log *slog.Logger) {
	defer r.stopPoll()
	r.markStopping()
	if r.exited() {
		return
	}
	start := time.Now()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
		log.Info("rollout: replica stopped", "replica", r.name, "after", time.Since(start).Round(time.Millisecond).String(), "exit", fmt.Sprint(r.exitErr()))
	case <-time.After(grace):
		log.Warn("rollout: replica outlived its grace period, killing it", "replica", r.name, "grace", grace.String())
		r.kill()
	}
}

func (r *replica) kill() {
	defer r.stopPoll()
	r.markStopping()
	_ = r.cmd.Process.Kill()
	<-r.done
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// prefixWriter writes whole lines to w, each behind prefix.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

var outputMu sync.Mutex // replicas share one Output

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		outputMu.Lock()
		_, _ = fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		outputMu.Unlock()
		p.buf = p.buf[i+1:]
	}
}
