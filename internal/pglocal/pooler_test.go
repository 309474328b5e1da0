package pglocal

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/seatbelt-go/seatbelt/internal/syncbuf"
)

// A pooler that dies under its clients says so, with its log's end: the
// clients themselves see only an unexpected EOF. One that is closed says
// nothing.
func TestPoolerThatExitsWhileInUseSaysSo(t *testing.T) {
	ctx := context.Background()
	srv, err := Find(ctx, &Options{EnvVar: "TEST_DATABASE_URL"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out syncbuf.Buffer
	poolerExitOutput = &out
	defer func() { poolerExitOutput = os.Stderr }()

	closed, err := StartPgBouncer(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" {
		t.Fatalf("a closed pooler said: %s", out.String())
	}

	p, err := StartPgBouncer(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	if got := out.String(); !strings.Contains(got, "pgbouncer exited while in use (signal: killed)") || !strings.Contains(got, "its log ends") {
		t.Fatalf("after the pooler died: %q", got)
	}
}
