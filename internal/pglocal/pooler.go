package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// PoolerEnv names the environment variable that puts a connection pooler in
// front of the server [Find] finds: "pgbouncer" starts one in transaction
// mode (see [StartPgBouncer]); empty or unset runs without. The test
// helpers then hand out URLs through the pooler ([Server.PooledURL]) and
// keep the direct URL for what needs a session of its own.
const PoolerEnv = "TEST_POOLER"

// poolerExitOutput is where a pooler that exits while in use says so: the
// test binary's stderr, which go test shows.
var poolerExitOutput io.Writer = os.Stderr

// pgbouncerPort only names the pooler's socket file; like a throwaway
// cluster, it listens on no TCP port, so it never collides with anything.
const pgbouncerPort = 6432

// PoolerOptions tunes [StartPgBouncer]. The zero value (or nil) gives the
// defaults.
type PoolerOptions struct {
	// Mode is PgBouncer's pool_mode. Defaults to "transaction", the mode
	// large deployments run and the one that breaks session features.
	Mode string
	// PoolSize is the most server connections per database. Defaults to 20.
	PoolSize int
}

// Pooler is a PgBouncer started in front of a server. Close stops it.
type Pooler struct {
	dir     string
	cmd     *exec.Cmd
	done    chan struct{}
	close   sync.Once
	closing atomic.Bool
	err     error
}

// StartPgBouncer starts PgBouncer (from PATH or /usr/sbin) in front of the
// server serverURL points at, for every database on it, logging in to the
// server as serverURL's user. It listens on a unix socket in a temporary
// folder; [Pooler.URL] turns a direct URL into one through it.
func StartPgBouncer(ctx context.Context, serverURL string, opts *PoolerOptions) (*Pooler, error) {
	var o PoolerOptions
	if opts != nil {
		o = *opts
	}
	if o.Mode == "" {
		o.Mode = "transaction"
	}
	if o.PoolSize == 0 {
		o.PoolSize = 20
	}
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if !isExecutable("/usr/sbin/pgbouncer") {
			return nil, fmt.Errorf("pglocal: pgbouncer is not installed (install it: apt-get install -y pgbouncer)")
		}
		bin = "/usr/sbin/pgbouncer"
	}
	sc, err := pgconn.ParseConfig(serverURL)
	if err != nil {
		return nil, fmt.Errorf("pglocal: the server URL for the pooler: %w", err)
	}
	cred, err := credential() // PgBouncer, too, refuses to run as root
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "seatbelt-pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("pglocal: make temporary folder: %w", err)
	}
	p := &Pooler{dir: dir, done: make(chan struct{})}
	fail := func(err error) (*Pooler, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	server := fmt.Sprintf("host=%s port=%d user=%s", sc.Host, sc.Port, sc.User)
	if sc.Password != "" {
		server += " password=" + sc.Password
	}
	// auth_type "any" logs every client in as the server line's user: the
	// tests connect as one superuser anyway, and no password file is needed.
	ini := fmt.Sprintf(`[databases]
* = %s

[pgbouncer]
listen_addr =
listen_port = %d
unix_socket_dir = %s
auth_type = any
pool_mode = %s
default_pool_size = %d
max_db_connections = %d
max_client_conn = 2000
server_idle_timeout = 10
ignore_startup_parameters = extra_float_digits
logfile = %s
`, server, pgbouncerPort, dir, o.Mode, o.PoolSize, o.PoolSize, filepath.Join(dir, "pgbouncer.log"))
	conf := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		return fail(fmt.Errorf("pglocal: write %s: %w", conf, err))
	}
	if cred != nil {
		for _, f := range []string{dir, conf} {
			if err := os.Chown(f, int(cred.Uid), int(cred.Gid)); err != nil {
				return fail(fmt.Errorf("pglocal: hand %s to the postgres user: %w", f, err))
			}
		}
	}
	p.cmd = exec.Command(bin, "-q", conf)
	p.cmd.Dir = dir
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	dieWithParent(p.cmd.SysProcAttr)
	// The parent-death signal follows the thread that started the child,
	// not the process: started from any goroutine, the pooler got SIGTERM
	// whenever the runtime retired that thread, mid-run. This goroutine
	// keeps its thread, locked, for as long as the pooler runs.
	cmd, started := p.cmd, make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		if !p.closing.Load() {
			// Its clients see only "unexpected EOF" or "connection
			// reset": say why (PgBouncer 1.18 exits with a FATAL line on
			// some cancel requests whose client died).
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			fmt.Fprintf(poolerExitOutput, "pglocal: pgbouncer exited while in use (%s); its log ends:\n%s\n", cmd.ProcessState, tail(log, 10))
		}
		close(p.done)
	}()
	if err := <-started; err != nil {
		return fail(fmt.Errorf("pglocal: start pgbouncer: %w", err))
	}
	u, err := p.URL(serverURL)
	if err != nil {
		_ = p.Close()
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := Ping(ctx, u)
		if err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			_ = p.Close()
			return nil, fmt.Errorf("pglocal: pgbouncer exited at start: %s\n%s", p.cmd.ProcessState, log)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			_ = p.Close()
			return nil, fmt.Errorf("pglocal: pgbouncer does not answer: %w\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns directURL (a URL on the server the pooler fronts) going
// through the pooler instead: same user, database and parameters, the
// pooler's socket for host and port.
func (p *Pooler) URL(directURL string) (string, error) {
	u, err := url.Parse(directURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("pglocal: want a postgres:// URL, got %q", directURL)
	}
	u.Host = ""
	if u.User != nil && u.User.Username() != "" {
		u.User = url.User(u.User.Username()) // the pooler takes no password
	}
	q := u.Query()
	q.Set("host", p.dir)
	q.Set("port", strconv.Itoa(pgbouncerPort))
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Close stops PgBouncer and removes its folder. It is safe to call more than
// once.
func (p *Pooler) Close() error {
	if p == nil || p.cmd == nil {
		return nil
	}
	p.close.Do(func() {
		p.closing.Store(true)
		// SIGTERM is PgBouncer's immediate shutdown; its clients are tests
		// that are over.
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.err = os.RemoveAll(p.dir)
	})
	return p.err
}

// startPoolerFromEnv starts the pooler PoolerEnv asks for in front of srv.
func startPoolerFromEnv(ctx context.Context, srv *Server) error {
	switch kind := strings.TrimSpace(os.Getenv(PoolerEnv)); kind {
	case "":
		return nil
	case "pgbouncer":
		p, err := StartPgBouncer(ctx, srv.URL, nil)
		if err != nil {
			return err
		}
		srv.Pooler = p
		return nil
	default:
		return errors.New("pglocal: " + PoolerEnv + "=" + kind + " is not a pooler this package starts; use pgbouncer, or unset it")
	}
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
