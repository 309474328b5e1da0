package migtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// foundURLEnv holds the URL of a server the child finds, not starts.
const foundURLEnv = "MIGTEST_CLOSE_FOUND_URL"

// A throwaway cluster migtest started is stopped and removed by Close, both
// when a test calls it and when TestMain does (through Closing) as the test
// binary ends. The child process finds no server: TEST_DATABASE_URL is empty
// and the default URL points at a closed port.
func TestCloseStopsTheThrowawayServer(t *testing.T) {
	t.Parallel()
	found, err := pglocal.Find(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer found.Close()
	var child *testchild.Child
	// Registered before the child starts, so that it runs after the child
	// was killed and its output read in full.
	t.Cleanup(func() {
		if child == nil {
			return
		}
		clusters, _ := throwaways(child.Lines())
		for _, c := range clusters {
			c.kill(t) // only if the test failed and left it running
		}
	})
	child = testchild.StartTest(t, "TestCloseHelperProcess", nil, "TEST_DATABASE_URL=", foundURLEnv+"="+found.URL)
	child.WaitPass(3 * time.Minute)
	clusters, err := throwaways(child.Lines())
	if err != nil {
		t.Fatal(err)
	}
	if len(clusters) != 2 {
		t.Fatalf("child started %d throwaway clusters; want 2 (one closed by the test, one by TestMain):\n%s", len(clusters), child.Output())
	}
	for i, c := range clusters {
		if c.running() {
			t.Errorf("cluster %d: postgres pid %d on %s still runs after Close", i+1, c.pid, c.data)
		}
		if _, err := os.Stat(c.data); !os.IsNotExist(err) {
			t.Errorf("cluster %d: %s still there after Close: %v", i+1, c.data, err)
		}
	}
}

// TestCloseHelperProcess runs in the child process of the test above.
func TestCloseHelperProcess(t *testing.T) {
	if _, ok := testchild.Args(); !ok {
		t.Skip("runs in the child process of TestCloseStopsTheThrowawayServer")
	}
	if err := migtest.Close(); err != nil {
		t.Fatalf("Close before any New: %v", err)
	}

	// A server migtest found is left running.
	migtest.SetFindOptions(&pglocal.Options{EnvVar: foundURLEnv})
	t.Run("FoundServer", func(t *testing.T) { migtest.New(t, app) })
	if err := migtest.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pglocal.Ping(context.Background(), os.Getenv(foundURLEnv)); err != nil {
		t.Fatalf("Close stopped a server it did not start: %v", err)
	}

	// None answers: migtest starts one, and Close stops it.
	migtest.SetFindOptions(&pglocal.Options{DefaultURL: "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1"})
	var first throwaway
	t.Run("Throwaway", func(t *testing.T) { first = startedCluster(t, migtest.New(t, app)) })
	if !first.running() {
		t.Fatalf("postgres pid %d is not running before Close", first.pid)
	}
	if err := migtest.Close(); err != nil {
		t.Fatal(err)
	}
	if first.running() {
		t.Fatalf("postgres pid %d still runs after Close", first.pid)
	}
	if err := migtest.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Its templates are forgotten: the next New starts a new cluster and
	// builds its template there. TestMain closes this one.
	t.Run("AfterClose", func(t *testing.T) {
		if c := startedCluster(t, migtest.New(t, app)); c.data == first.data {
			t.Fatalf("New after Close used the closed cluster %s", c.data)
		}
	})
}

// throwaway is a cluster the child process saw migtest start.
type throwaway struct {
	pid  int
	data string
}

// throwaways reads the clusters the child process logged it started.
func throwaways(lines []string) ([]throwaway, error) {
	var clusters []throwaway
	for _, l := range lines {
		if _, rest, ok := strings.Cut(l, "throwaway cluster: "); ok {
			var c throwaway
			if _, err := fmt.Sscanf(rest, "pid %d data %s", &c.pid, &c.data); err != nil {
				return clusters, fmt.Errorf("line %q: %v", l, err)
			}
			clusters = append(clusters, c)
		}
	}
	return clusters, nil
}

// startedCluster finds the postmaster serving db and logs it for the parent.
func startedCluster(t *testing.T, db *pgxpool.Pool) throwaway {
	t.Helper()
	var c throwaway
	if err := db.QueryRow(context.Background(), "SHOW data_directory").Scan(&c.data); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if c.pid, err = strconv.Atoi(first); err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	t.Logf("throwaway cluster: pid %d data %s", c.pid, c.data)
	return c
}

// running reports whether the postmaster runs: its pid is alive (not a
// zombie) and still a postgres on this data folder.
func (c throwaway) running() bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.pid))
	if err != nil || !strings.Contains(string(cmdline), c.data) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(after, "Z")
}

// kill stops a cluster left running and removes its folder.
func (c throwaway) kill(t *testing.T) {
	if c.running() {
		t.Logf("stopping postgres pid %d left running", c.pid)
		syscall.Kill(c.pid, syscall.SIGQUIT)
	}
	if dir := filepath.Dir(c.data); strings.HasPrefix(filepath.Base(dir), "seatbelt-pg-") {
		os.RemoveAll(dir)
	}
}
