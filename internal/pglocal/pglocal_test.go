package pglocal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestFindUsesEnvironmentFirst(t *testing.T) {
	ctx := context.Background()
	def, err := Find(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	t.Setenv("SEATBELT_TEST_PG", def.URL)
	srv, err := Find(ctx, &Options{EnvVar: "SEATBELT_TEST_PG"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close() // with TEST_POOLER set, a pooler runs in front of it
	if srv.Source != SourceEnv || srv.URL != def.URL {
		t.Fatalf("got %s %q, want env %q", srv.Source, srv.URL, def.URL)
	}
}

func TestFindRefusesBrokenEnvironmentURL(t *testing.T) {
	t.Setenv("SEATBELT_TEST_PG", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	_, err := Find(context.Background(), &Options{EnvVar: "SEATBELT_TEST_PG"})
	if err == nil || !strings.Contains(err.Error(), "SEATBELT_TEST_PG is set but the server does not answer") {
		t.Fatalf("want an error naming the variable, got %v", err)
	}
}

// TestThrowawayCluster forces the third step of the search by pointing the
// default at a closed port, so it runs even where 127.0.0.1:5432 answers.
func TestThrowawayCluster(t *testing.T) {
	ctx := context.Background()
	srv, err := Find(ctx, &Options{
		EnvVar:     "SEATBELT_UNSET_VAR",
		DefaultURL: "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Source != SourceThrowaway {
		t.Fatalf("source = %s, want throwaway", srv.Source)
	}
	dir := srv.cluster.dir
	if err := Ping(ctx, srv.URL); err != nil {
		t.Fatalf("throwaway server does not answer: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Ping(ctx, srv.URL); err == nil {
		t.Fatal("server still answers after Close")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("folder %s still there after Close: %v", dir, err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestFindSaysHowToGetADatabase(t *testing.T) {
	_, err := Find(context.Background(), &Options{
		EnvVar:     "SEATBELT_UNSET_VAR",
		DefaultURL: "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1",
		NoPath:     true,
		BinDirs:    []string{t.TempDir()},
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	for _, want := range []string{"SEATBELT_UNSET_VAR", "pg_ctlcluster", "apt-get install -y postgresql"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestCreateDatabase(t *testing.T) {
	ctx := context.Background()
	srv, err := Find(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, drop, err := CreateDatabase(ctx, srv.URL, "pglocal_test")
	if err != nil {
		t.Fatal(err)
	}
	if err := Ping(ctx, url); err != nil {
		t.Fatalf("new database does not answer: %v", err)
	}
	drop()
	if err := Ping(ctx, url); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("database still there after drop: %v", err)
	}
	if _, _, err := CreateDatabase(ctx, "mysql://x", "p"); err == nil || !strings.Contains(err.Error(), "want a postgres:// URL") {
		t.Fatalf("bad URL: %v", err)
	}
}

func TestMustCreateDatabase(t *testing.T) {
	ctx := context.Background()
	url, drop := MustCreateDatabase("pglocal_test")
	if err := Ping(ctx, url); err != nil {
		drop()
		t.Fatalf("new database does not answer: %v", err)
	}
	drop()
	if err := Ping(ctx, url); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("database still there after drop: %v", err)
	}
	t.Setenv("TEST_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "TEST_DATABASE_URL is set but the server does not answer") {
			t.Fatalf("without a server: recovered %v, want a panic saying why", r)
		}
	}()
	MustCreateDatabase("pglocal_test")
}

func TestStandbyStreamsFromItsPrimary(t *testing.T) {
	ctx := context.Background()
	primary, err := StartThrowaway(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	standby, err := StartStandby(ctx, primary, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close()
	p, err := pgx.Connect(ctx, primary.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if _, err := p.Exec(ctx, "CREATE TABLE t AS SELECT 42 AS x"); err != nil {
		t.Fatal(err)
	}
	s, err := pgx.Connect(ctx, standby.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	var inRecovery bool
	if err := s.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("standby in recovery: %v %v", inRecovery, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var x int
		err := s.QueryRow(ctx, "SELECT x FROM t").Scan(&x)
		if err == nil && x == 42 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby never saw the primary's table: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
