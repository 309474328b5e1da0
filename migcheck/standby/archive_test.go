package standby_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

// Most production standbys also restore WAL from an archive (pgBackRest,
// WAL-G, Patroni set restore_command), and PostgreSQL restores all the
// archive has before it promotes. A hold marks restore_command to fail, so
// the deploy's archived WAL does not reach the promoted server either;
// release takes the mark off.
func TestHoldKeepsTheArchiveFromThePromotion(t *testing.T) {
	ctx := context.Background()
	var p *pglocal.Server
	// Not t.TempDir(): the server runs as the postgres user, which must
	// reach the folder.
	archive, err := os.MkdirTemp("", "seatbelt-archive-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(archive)
	if err := os.Chmod(archive, 0o777); err != nil {
		t.Fatal(err)
	}
	p, err = pglocal.StartThrowaway(ctx, &pglocal.Options{Logger: quiet(), Settings: []string{
		"archive_mode=on", "archive_command=cp %p " + archive + "/%f"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := pglocal.StartStandby(ctx, p, &pglocal.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	primary, stby := pool(t, p.URL), pool(t, s.URL)
	restore := "cp " + archive + "/%f %p"
	exec(t, stby, `ALTER SYSTEM SET restore_command = '`+restore+`'`)
	exec(t, stby, `SELECT pg_reload_conf()`)
	exec(t, primary, `CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 500) g`)

	pair, err := standby.New(primary, stby, &standby.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pair.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fileSetting(t, stby, "restore_command"); !strings.HasPrefix(got, "exit 1 #") || !strings.HasSuffix(got, restore) {
		t.Fatalf("restore_command of the held standby: %q, want it marked to fail", got)
	}
	if err := pair.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fileSetting(t, stby, "restore_command"); got != restore {
		t.Fatalf("restore_command after release: %q, want %q", got, restore)
	}

	if _, err := pair.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	// The deploy: the table dropped, and its WAL archived.
	exec(t, primary, `DROP TABLE orders`)
	var seg string
	if err := primary.QueryRow(ctx, `SELECT pg_walfile_name(pg_switch_wal())`).Scan(&seg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(archive, seg)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the primary did not archive %s", seg)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := standby.Promote(ctx, stby, nil); err != nil {
		t.Fatal(err)
	}
	if n := count(t, stby, `SELECT count(*) FROM orders`); n != 500 {
		t.Fatalf("%d rows on the promoted standby, want the 500 from before the hold", n)
	}
	if got := fileSetting(t, stby, "restore_command"); got != restore {
		t.Fatalf("restore_command after the promotion: %q, want it unmarked: %q", got, restore)
	}
}

// A restore_command set on a held standby after the hold, unmarked, would
// bring the archive's WAL into the promotion: Promote refuses it.
func TestPromoteRefusesAnUnmarkedRestoreCommand(t *testing.T) {
	ctx := context.Background()
	primary, stby, _ := pair(t)
	p, err := standby.New(primary, stby, &standby.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, stby, `ALTER SYSTEM SET restore_command = 'cp /nonexistent/%f %p'`)
	exec(t, stby, `SELECT pg_reload_conf()`)
	if _, err := standby.Promote(ctx, stby, nil); !errors.Is(err, standby.ErrNotHeld) || !strings.Contains(err.Error(), "restore_command") {
		t.Fatalf("promote with an unmarked restore_command: %v, want ErrNotHeld naming it", err)
	}
}

// fileSetting is the setting as the server's configuration files hold it.
func fileSetting(t *testing.T, db *pgxpool.Pool, name string) string {
	t.Helper()
	var v string
	err := db.QueryRow(context.Background(), `SELECT coalesce((SELECT setting FROM pg_file_settings WHERE name = $1 AND error IS NULL ORDER BY seqno DESC LIMIT 1), '')`, name).Scan(&v)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
