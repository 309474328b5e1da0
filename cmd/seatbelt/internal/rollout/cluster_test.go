package rollout

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testConfig() *Config {
	return &Config{
		ProbeInterval:    50 * time.Millisecond,
		PropagationDelay: 100 * time.Millisecond,
		GracePeriod:      5 * time.Second,
		ReadyTimeout:     10 * time.Second,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Rand:             rand.New(rand.NewPCG(1, 2)),
	}
}

// load sends requests through the proxy from 4 clients until stopped and
// counts the answers by body, and the failures.
type load struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	bodies map[string]int
	failed atomic.Int64
	errs   []string
}

func startLoad(url string) *load {
	l := &load{stop: make(chan struct{}), bodies: map[string]int{}}
	client := &http.Client{Timeout: 10 * time.Second}
	for range 4 {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := client.Get(url + "/version")
				if err != nil {
					l.fail(err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					l.fail(resp.Status + " " + string(body))
					continue
				}
				l.mu.Lock()
				l.bodies[string(body)]++
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	l.errs = append(l.errs, msg)
	l.mu.Unlock()
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

func TestRolloutUnderLoadLosesNoRequest(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, version("v1"), 2, "", testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := startLoad(c.URL())
	time.Sleep(200 * time.Millisecond)
	if err := c.Rollout(ctx, version("v2")); err != nil {
		t.Fatal(err)
	}
	if err := c.Rollout(ctx, version("v3")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	l.finish()

	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d requests failed during rolling deploys: %v", n, l.errs[:min(5, len(l.errs))])
	}
	for _, v := range []string{"v1", "v2", "v3"} {
		if l.bodies[v] == 0 {
			t.Errorf("no request was answered by %s: %v", v, l.bodies)
		}
	}
	rs := c.Replicas()
	if len(rs) != 2 || rs[0].Version != "v3" || rs[1].Version != "v3" || !rs[0].InRotation || !rs[1].InRotation {
		t.Fatalf("after the rollouts: %+v", rs)
	}
	if c.Deploys() != 2 {
		t.Fatalf("Deploys() = %d, want 2", c.Deploys())
	}
}

func TestFailedRolloutKeepsOldReplicasServing(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, version("v1"), 2, "", testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The short wait for the rollout only: the first replicas, given a
	// second on a loaded machine, were not ready in time.
	c.cfg.ReadyTimeout = time.Second
	l := startLoad(c.URL())
	err = c.Rollout(ctx, version("bad", "NEVER_READY=1"))
	l.finish()
	if err == nil || !strings.Contains(err.Error(), "not ready") || !strings.Contains(err.Error(), "old replicas keep serving") {
		t.Fatalf("rollout of a version that never becomes ready: %v", err)
	}
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d requests failed: %v", n, l.errs[:min(5, len(l.errs))])
	}
	if l.bodies["bad"] != 0 {
		t.Fatal("a replica that was never ready got traffic")
	}
	rs := c.Replicas()
	if len(rs) != 2 || rs[0].Version != "v1" || rs[1].Version != "v1" {
		t.Fatalf("replicas after the failed rollout: %+v", rs)
	}
}

func TestKillRandomReplacesTheReplica(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, version("v1"), 2, "", testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := c.Replicas()
	killed, err := c.KillRandom(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := c.Replicas()
	if len(after) != 2 || c.Kills() != 1 {
		t.Fatalf("after a kill: %+v, kills %d", after, c.Kills())
	}
	for _, r := range after {
		if r.Name == killed {
			t.Fatalf("killed replica %s still listed", killed)
		}
	}
	if before[0].Name != killed && before[1].Name != killed {
		t.Fatalf("killed %s, which was not a replica: %+v", killed, before)
	}
	resp, err := http.Get(c.URL() + "/version")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after a kill the service does not answer: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestStartRefusesZeroReplicas(t *testing.T) {
	if _, err := Start(context.Background(), version("v1"), 0, "", testConfig()); err == nil || !strings.Contains(err.Error(), "want at least 1") {
		t.Fatalf("got %v", err)
	}
}

// A service that stops at once on SIGTERM drops the requests the proxy
// still routes to it while the endpoint removal propagates: the rollout
// must show that, not hide it behind a pause before SIGTERM.
func TestRolloutShowsAServiceThatDoesNotDrain(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.PropagationDelay = 300 * time.Millisecond
	c, err := Start(ctx, version("v1", "EXIT_ON_SIGTERM=1"), 2, "", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := startLoad(c.URL())
	if err := c.Rollout(ctx, version("v2")); err != nil {
		t.Fatal(err)
	}
	l.finish()
	if l.failed.Load() == 0 {
		t.Fatal("no request failed while replicas that exit at once on SIGTERM were replaced")
	}
}

// A replica that exits on its own is started again and counted.
func TestCrashedReplicaIsRestarted(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.RestartDelay = 50 * time.Millisecond
	c, err := Start(ctx, version("v1"), 1, "", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := http.Post(c.URL()+"/crash", "text/plain", nil)
	if err == nil {
		resp.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Restarts() == 0 || len(c.Replicas()) != 1 || !c.Replicas()[0].InRotation {
		if time.Now().After(deadline) {
			t.Fatalf("no restart: restarts %d, replicas %+v", c.Restarts(), c.Replicas())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c.Kills() != 0 {
		t.Fatalf("a crash counted as a kill: %d", c.Kills())
	}
}
