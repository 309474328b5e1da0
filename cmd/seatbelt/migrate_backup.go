package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

// pgBinRoot holds the versioned folders searched for pg_dump after PATH;
// tests replace it.
var pgBinRoot = pglocal.SystemBinRoot

// errNoPgDump is returned when --backup-dir is given and pg_dump is nowhere.
var errNoPgDump = errors.New("pg_dump not found on PATH or under /usr/lib/postgresql/*/bin: install it (apt-get install postgresql-client) or drop --backup-dir; nothing was applied")

// findPgDump returns the first pg_dump that can dump a server of version
// serverVersion (server_version_num): pg_dump refuses servers of a newer
// major version than its own. PATH comes first, then the versioned folders,
// newest first.
func findPgDump(ctx context.Context, serverVersion int) (string, error) {
	candidates := pglocal.Programs("pg_dump", pgBinRoot)
	if len(candidates) == 0 {
		return "", errNoPgDump
	}
	need := pglocal.MajorVersion(serverVersion)
	var tooOld []string
	for _, p := range candidates {
		v, err := pgDumpVersion(ctx, p)
		if err != nil {
			tooOld = append(tooOld, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		if pglocal.MajorVersion(v) >= need {
			return p, nil
		}
		tooOld = append(tooOld, fmt.Sprintf("%s is %s", p, pglocal.FormatVersion(v)))
	}
	major := majorName(serverVersion)
	return "", fmt.Errorf("the server is PostgreSQL %s and pg_dump cannot back up a server newer than itself, but no pg_dump here is %s or newer (%s): "+
		"install one (apt-get install postgresql-client-%s, from the PostgreSQL apt repository if your distribution lacks it) or drop --backup-dir; nothing was applied",
		pglocal.FormatVersion(serverVersion), major, strings.Join(tooOld, "; "), major)
}

// majorName writes a version's major as PostgreSQL names it: 17, 9.6.
func majorName(v int) string {
	if v >= 100000 {
		return strconv.Itoa(v / 10000)
	}
	return fmt.Sprintf("%d.%d", v/10000, v/100%100)
}

// pgDumpVersion runs pg_dump --version ("pg_dump (PostgreSQL) 15.4 (Debian
// ...)") and returns the version in server_version_num form.
func pgDumpVersion(ctx context.Context, pgDump string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, pgDump, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("--version failed: %w", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if v := pglocal.ParseVersion(f); v > 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("no version in its --version output %q", strings.TrimSpace(string(out)))
}

// backup runs pg_dump -Fc into dir, with a pg_dump at least as new as the
// server pool is on, and returns the file's path.
func backup(ctx context.Context, pool *pgxpool.Pool, databaseURL, dir string) (string, error) {
	var serverVersion int
	if err := pool.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&serverVersion); err != nil {
		return "", fmt.Errorf("reading the server's version for pg_dump, nothing was applied: %w", err)
	}
	pgDump, err := findPgDump(ctx, serverVersion)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("backup folder: %w", err)
	}
	name := "database"
	if cfg, err := pgx.ParseConfig(databaseURL); err == nil && cfg.Database != "" {
		name = cfg.Database
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.dump", name, time.Now().UTC().Format("20060102T150405Z")))
	// pg_dump writes beside the final name, which the dump gets only once it
	// is complete: a run killed part-way (kill -9, a node lost) leaves a
	// .partial file, never a truncated .dump that looks like a backup.
	partial := path + ".partial"
	cmd := exec.CommandContext(ctx, pgDump, "-Fc", "-f", partial, "--dbname", libpqConnString(databaseURL))
	cmd.Env = os.Environ()
	if t := settingsOf(ctx).connectTimeout; t > 0 {
		// libpq's unit is whole seconds; a connect_timeout in the URL wins.
		cmd.Env = append(cmd.Env, fmt.Sprintf("PGCONNECT_TIMEOUT=%d", int((t+time.Second-1)/time.Second)))
	}
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(partial)
		return "", fmt.Errorf("pg_dump %s failed, nothing was applied: %v: %s", pgDump, err, stderr.String())
	}
	if err := os.Rename(partial, path); err != nil {
		os.Remove(partial)
		return "", fmt.Errorf("naming the backup %s, nothing was applied: %w", path, err)
	}
	return path, nil
}

// pgxOnlyParams are connection-string settings that pgx and pgxpool read
// and libpq refuses ("invalid URI query parameter"): a service behind
// PgBouncer sets default_query_exec_mode, and pg_dump must still run.
var pgxOnlyParams = map[string]bool{
	"default_query_exec_mode": true, "statement_cache_capacity": true, "description_cache_capacity": true,
	"pool_max_conns": true, "pool_min_conns": true, "pool_min_idle_conns": true, "pool_max_conn_lifetime": true,
	"pool_max_conn_idle_time": true, "pool_health_check_period": true, "pool_max_conn_lifetime_jitter": true,
}

// libpqConnString drops pgxOnlyParams from a URL or keyword/value
// connection string, leaving the rest as written.
func libpqConnString(conn string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for k := range q {
			if pgxOnlyParams[k] {
				q.Del(k)
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	var kept []string
	for _, f := range strings.Fields(conn) {
		if k, _, ok := strings.Cut(f, "="); ok && pgxOnlyParams[k] {
			continue
		}
		kept = append(kept, f)
	}
	return strings.Join(kept, " ")
}

// limitedBuffer keeps the first 4 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
