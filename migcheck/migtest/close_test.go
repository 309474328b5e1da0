package migtest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

const (
	// closeHelperEnv makes TestCloseHelperProcess run, in a child process.
	closeHelperEnv = "MIGTEST_CLOSE_HELPER"
	// foundURLEnv holds the URL of a server the child finds, not starts.
	foundURLEnv = "MIGTEST_CLOSE_FOUND_URL"
)

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
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCloseHelperProcess$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "TEST_DATABASE_URL=", closeHelperEnv+"=1", foundURLEnv+"="+found.URL)
	out, err := cmd.CombinedOutput()
	var clusters []throwaway
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), "throwaway cluster: "); ok {
			var c throwaway
			if _, err := fmt.Sscanf(rest, "pid %d data %s", &c.pid, &c.data); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			clusters = append(clusters, c)
		}
	}
	t.Cleanup(func() {
		for _, c := range clusters {
			c.kill(t) // only if the test failed and left it running
		}
	})
	if err != nil || !strings.Contains(string(out), "\nPASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if len(clusters) != 2 {
		t.Fatalf("child started %d throwaway clusters; want 2 (one closed by the test, one by TestMain):\n%s", len(clusters), out)
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
	if os.Getenv(closeHelperEnv) == "" {
		return // not the child process
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
