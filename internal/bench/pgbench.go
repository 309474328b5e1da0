package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

// findPgbench returns PostgreSQL's pgbench: on PATH, else in Debian's and
// Ubuntu's versioned folders (it ships with the server there).
func findPgbench() (string, error) {
	if ps := pglocal.Programs("pgbench", pglocal.SystemBinRoot); len(ps) > 0 {
		return ps[0], nil
	}
	return "", errors.New("pgbench is neither on PATH nor in " + pglocal.SystemBinRoot + "/*/bin: install PostgreSQL's programs (Debian: the postgresql package), or pass --pgbench=false")
}

// pgbenchTPS reads the rate from pgbench's report.
var pgbenchTPS = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)

// runPgbench runs the SQL script with pgbench on connString's database: clients
// clients over as many threads as there are cores, prepared statements,
// for d in whole seconds (pgbench's unit, at least one). It returns the
// transactions a second pgbench reports.
func runPgbench(ctx context.Context, bin, connString string, clients int, d time.Duration, script string) (float64, error) {
	cc, err := pgx.ParseConfig(connString)
	if err != nil {
		return 0, err
	}
	// The connection goes as libpq's variables: a URL may carry pgx's own
	// parameters, which libpq refuses. sslmode is the URL's, else libpq's
	// default.
	sslmode := "prefer"
	if u, err := url.Parse(connString); err == nil && u.Query().Get("sslmode") != "" {
		sslmode = u.Query().Get("sslmode")
	}
	dir, err := os.MkdirTemp("", "seatbelt-pgbench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		return 0, err
	}
	secs := max(1, int(d/time.Second))
	cmd := exec.CommandContext(ctx, bin, "-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, runtime.NumCPU())),
		"-T", strconv.Itoa(secs), "-f", file)
	cmd.Env = append(os.Environ(), "PGHOST="+cc.Host, "PGPORT="+strconv.Itoa(int(cc.Port)), "PGUSER="+cc.User,
		"PGPASSWORD="+cc.Password, "PGDATABASE="+cc.Database, "PGSSLMODE="+sslmode)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out.Bytes())
	}
	m := pgbenchTPS.FindSubmatch(out.Bytes())
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no rate:\n%s", out.Bytes())
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
