package migcheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// DefaultTable is the golang-migrate version table a [Set] uses when its
// Table field is empty.
const DefaultTable = "schema_migrations"

// Set is one migration set: a name, a folder of golang-migrate files and the
// version table golang-migrate keeps for it. A service's own migrations are
// one set; each library package that owns tables (eventlog, jobs) exports
// another, so one [Apply] call sets up all of them.
//
// Files live at the root of FS and are named NNNN_name.up.sql and, optionally,
// NNNN_name.down.sql. Any other regular file is an error (a typo such as
// 0002_x.up.sq must not be skipped silently), except dot-files and *.md.
type Set struct {
	// Name identifies the set in the ledger, in errors and on the command
	// line ("app", "eventlog"). Required.
	Name string
	// FS holds the migration files at its root; use fs.Sub for a folder of
	// an embed.FS. Required.
	FS fs.FS
	// Table is the golang-migrate version table of this set, unqualified
	// (the connection's search_path decides the schema). Defaults to
	// "schema_migrations".
	Table string
}

// Migration is one version of a [Set] as found in its files.
type Migration struct {
	// Version is the number before the first underscore.
	Version int64
	// Name is what follows the underscore, without ".up.sql".
	Name string
	// File is the up file's name, e.g. "0003_add_email.up.sql".
	File string
	// DownFile is the down file's name, or "" if there is none.
	DownFile string
	// SHA256 is the hex SHA-256 of the up file with a leading byte-order
	// mark removed and CRLF turned into LF, so a checkout on Windows does
	// not look like an edit.
	SHA256 string

	content []byte
}

func (s Set) table() string {
	if s.Table == "" {
		return DefaultTable
	}
	return s.Table
}

// FileName is a parsed golang-migrate file name.
type FileName struct {
	Version int64
	Name    string
	Up      bool // false for .down.sql
}

// ParseFileName parses "NNNN_name.up.sql" or "NNNN_name.down.sql". The
// version is one or more ASCII digits that fit a PostgreSQL bigint, the name
// is non-empty and has no slash. Errors wrap [ErrBadFileName].
func ParseFileName(file string) (FileName, error) {
	bad := func(why string) (FileName, error) {
		return FileName{}, fmt.Errorf("%w: %q %s; rename it to NNNN_name.up.sql or NNNN_name.down.sql", ErrBadFileName, file, why)
	}
	var fn FileName
	rest, ok := strings.CutSuffix(file, ".up.sql")
	if ok {
		fn.Up = true
	} else if rest, ok = strings.CutSuffix(file, ".down.sql"); !ok {
		return bad("does not end in .up.sql or .down.sql")
	}
	digits, name, ok := strings.Cut(rest, "_")
	if !ok {
		return bad("has no underscore after the version")
	}
	if digits == "" {
		return bad("does not start with a version number")
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return bad("does not start with a version number")
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return bad("has a version too large for a bigint")
	}
	if name == "" {
		return bad("has no name after the version")
	}
	if strings.ContainsAny(name, "/\\\x00") {
		return bad("has a slash or NUL in its name")
	}
	fn.Version, fn.Name = v, name
	return fn, nil
}

// Checksum returns the hex SHA-256 migcheck records for a file's content:
// a leading UTF-8 byte-order mark is dropped and CRLF becomes LF first.
func Checksum(content []byte) string {
	content = withoutBOM(content)
	if bytes.Contains(content, []byte("\r\n")) {
		content = bytes.ReplaceAll(content, []byte("\r\n"), []byte("\n"))
	}
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// Migrations reads and checks the set's files and returns its migrations
// ordered by version. Every badly named file, duplicate version and down
// file without an up file is reported, joined in one error; each wraps
// [ErrBadFileName] or [ErrDuplicateVersion] inside a [*FileError].
func (s Set) Migrations() ([]Migration, error) {
	if s.Name == "" {
		return nil, fmt.Errorf("%w: Set.Name is empty; give the set a name such as \"app\"", ErrBadSet)
	}
	if s.FS == nil {
		return nil, fmt.Errorf("%w: set %q: Set.FS is nil; pass the folder of migration files", ErrBadSet, s.Name)
	}
	entries, err := fs.ReadDir(s.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("%w: set %q: reading its files: %v", ErrBadSet, s.Name, err)
	}
	var errs []error
	fail := func(file string, err error) { errs = append(errs, &FileError{Set: s.Name, File: file, Err: err}) }
	byVersion := map[int64]*Migration{}
	downs := map[int64]FileName{}
	downFile := map[int64]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.EqualFold(path.Ext(name), ".md") {
			continue
		}
		fn, err := ParseFileName(name)
		if err != nil {
			fail(name, err)
			continue
		}
		if !fn.Up {
			if other, dup := downFile[fn.Version]; dup {
				fail(name, fmt.Errorf("%w: version %d is also in %s; give one of them a new number", ErrDuplicateVersion, fn.Version, other))
				continue
			}
			downs[fn.Version], downFile[fn.Version] = fn, name
			continue
		}
		if m, dup := byVersion[fn.Version]; dup {
			fail(name, fmt.Errorf("%w: version %d is also in %s; give one of them a new number", ErrDuplicateVersion, fn.Version, m.File))
			continue
		}
		content, err := fs.ReadFile(s.FS, name)
		if err != nil {
			fail(name, fmt.Errorf("%w: %v", ErrBadSet, err))
			continue
		}
		byVersion[fn.Version] = &Migration{Version: fn.Version, Name: fn.Name, File: name, SHA256: Checksum(content), content: withoutBOM(content)}
	}
	for v, d := range downs {
		m, ok := byVersion[v]
		switch {
		case !ok:
			fail(downFile[v], fmt.Errorf("%w: down file without an up file; add %d_%s.up.sql or remove it", ErrBadFileName, v, d.Name))
		case m.Name != d.Name:
			fail(downFile[v], fmt.Errorf("%w: name differs from its up file %s; make them match", ErrBadFileName, m.File))
		default:
			m.DownFile = downFile[v]
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].(*FileError).File < errs[j].(*FileError).File })
		return nil, errors.Join(errs...)
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// withoutBOM returns content without a leading UTF-8 byte-order mark, as
// some editors (Windows ones) begin a file. A file saved with one is the
// same migration as without: the checksum and the linter skip it, and it
// is never sent, since PostgreSQL's lexer takes it for part of an
// identifier and refuses the statement it begins with a syntax error at a
// character no editor shows.
func withoutBOM(content []byte) []byte {
	return bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
}
