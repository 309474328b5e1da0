package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// socketPort only names the socket file (.s.PGSQL.<port>); the cluster
// listens on no TCP port at all, so it can never collide with another server.
const socketPort = 5432

// cluster is a PostgreSQL data folder and the server running on it.
type cluster struct {
	dir    string // holds data/, the socket and the log
	cred   *syscall.Credential
	stopFn func() error
}

// StartThrowaway makes and starts a new cluster from the installed binaries
// and returns it as a [Server]. Close the server to stop and remove it.
func StartThrowaway(ctx context.Context, opts *Options) (*Server, error) {
	o := withDefaults(opts)
	initdb, pgCtl, err := findBinaries(o.NoPath, o.BinDirs)
	if err != nil {
		return nil, err
	}
	c, err := newCluster("seatbelt-pg-")
	if err != nil {
		return nil, err
	}
	if out, err := c.run(ctx, initdb, "-D", c.data(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		_ = c.stop()
		return nil, fmt.Errorf("pglocal: initdb failed: %w\n%s", err, out)
	}
	srv, err := c.start(ctx, pgCtl, SourceThrowaway, o.Settings)
	if err != nil {
		return nil, err
	}
	o.Logger.Info("pglocal: started throwaway PostgreSQL", "dir", c.dir)
	return srv, nil
}

// newCluster makes the folder of a cluster, owned by the postgres user when
// running as root (PostgreSQL refuses to run as root, so every command then
// runs as that user).
func newCluster(prefix string) (*cluster, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("pglocal: make temporary folder: %w", err)
	}
	c := &cluster{dir: dir, cred: cred}
	c.stopFn = func() error { return os.RemoveAll(dir) }
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = c.stop()
			return nil, fmt.Errorf("pglocal: hand %s to the postgres user: %w", dir, err)
		}
	}
	return c, nil
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

// start starts the server on the cluster's data folder, listening on a
// socket in its folder only, and returns it as a Server; on failure it
// removes the cluster.
func (c *cluster) start(ctx context.Context, pgCtl string, source Source, settings []string) (*Server, error) {
	data := c.data()
	opts := fmt.Sprintf("-F -p %d -k %s -c listen_addresses='' -c max_connections=200 "+
		"-c synchronous_commit=off -c full_page_writes=off", socketPort, c.dir)
	for _, kv := range settings {
		opts += " -c " + shellQuote(kv)
	}
	if out, err := c.run(ctx, pgCtl, "start", "-w", "-t", "60", "-D", data,
		"-l", filepath.Join(c.dir, "server.log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		_ = c.stop()
		return nil, fmt.Errorf("pglocal: pg_ctl start failed: %w\n%s\n%s", err, out, log)
	}
	c.stopFn = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := c.run(ctx, pgCtl, "stop", "-w", "-m", "immediate", "-D", data)
		if err != nil {
			err = fmt.Errorf("pglocal: pg_ctl stop: %w\n%s", err, out)
		}
		return errors.Join(err, os.RemoveAll(c.dir))
	}
	q := url.Values{"host": {c.dir}, "port": {strconv.Itoa(socketPort)}, "sslmode": {"disable"}}
	srv := &Server{URL: "postgres://postgres@/postgres?" + q.Encode(), Source: source, cluster: c}
	if err := Ping(ctx, srv.URL); err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("pglocal: server started but does not answer: %w", err)
	}
	return srv, nil
}

func (c *cluster) stop() error { return c.stopFn() }

func (c *cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl leaves the server running with our stdout unless told where to log;
	// WaitDelay keeps Run from waiting on a pipe a detached child holds.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	return out.Bytes(), err
}

// credential returns the postgres user's ids when running as root, and nil
// otherwise (an ordinary user runs PostgreSQL as itself).
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pglocal: running as root, and PostgreSQL refuses to run as root, but there is no postgres user to run it as: %w (create one: useradd -r postgres)", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pglocal: postgres user ids: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// findBinaries returns initdb and pg_ctl from one folder, so a mixed install
// can never pair tools of different major versions.
func findBinaries(noPath bool, dirs []string) (initdb, pgCtl string, err error) {
	if !noPath {
		if i, err := exec.LookPath("initdb"); err == nil {
			if p, err := exec.LookPath("pg_ctl"); err == nil {
				return i, p, nil
			}
		}
	}
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "pg_ctl")
		if isExecutable(i) && isExecutable(p) {
			return i, p, nil
		}
	}
	return "", "", fmt.Errorf("pglocal: initdb and pg_ctl are neither on PATH nor in %v", dirs)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// SystemBinRoot holds Debian's and Ubuntu's versioned folders of PostgreSQL
// programs, SystemBinRoot/VERSION/bin.
const SystemBinRoot = "/usr/lib/postgresql"

// SystemBinDirs lists the folders of SystemBinRoot, newest first.
func SystemBinDirs() []string { return BinDirs(SystemBinRoot) }

// shellQuote quotes s for pg_ctl's -o, which a shell splits.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
