package migcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// IndexSet is a folder of indexes built by hand rather than by a migration:
// one file per index, named for the index (orders_customer_id.sql), holding
// one CREATE [UNIQUE] INDEX CONCURRENTLY statement. An [Indexer] builds what
// is missing; Verify, given the set in Config.Indexes, warns about a
// declared index that is missing or invalid.
//
// Files live at the root of FS. Dot-files and *.md are ignored; any other
// file is an error, so a typo is never skipped.
type IndexSet struct {
	// FS holds the index files at its root; use fs.Sub for a folder of an
	// embed.FS. Required.
	FS fs.FS
}

// Index is one declared index, as read from its file.
type Index struct {
	// Name is the index name: the file name without ".sql".
	Name string `json:"name"`
	// File is the file it was read from.
	File string `json:"file"`
	// Table is the table as the statement writes it, possibly
	// schema-qualified; the connection's search_path resolves it.
	Table string `json:"table"`
	// Unique is true for CREATE UNIQUE INDEX.
	Unique bool `json:"unique"`
	// SQL is the statement, without its semicolon.
	SQL string `json:"sql"`
	// SHA256 is [Checksum] of the file.
	SHA256 string `json:"sha256"`

	// rest is what follows the table name (USING, columns, INCLUDE, WITH,
	// WHERE), used to build the same index under another name.
	rest string
}

// ErrBadIndexFile means a file of an [IndexSet] is not one CREATE [UNIQUE]
// INDEX CONCURRENTLY statement for the index its name gives.
var ErrBadIndexFile = errors.New("migcheck: bad index file")

// maxIdent is PostgreSQL's identifier limit in bytes (NAMEDATALEN - 1).
const maxIdent = 63

var (
	indexNameRe = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)
	// The head of the statement, after comments are removed and white space
	// collapsed: CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON [ONLY] table rest.
	indexHeadRe = regexp.MustCompile(`(?is)^create\s+(unique\s+)?index\s+(concurrently\s+)?(if\s+not\s+exists\s+)?("(?:[^"]|"")+"|[^\s("]+)\s+on\s+(only\s+)?((?:"(?:[^"]|"")+"|[^\s(."]+)(?:\.(?:"(?:[^"]|"")+"|[^\s(."]+))?)\s*(.*)$`)
)

// Indexes reads and checks the set's files and returns its indexes ordered
// by name. Every bad file is reported, joined in one error; each wraps
// [ErrBadIndexFile] inside a [*FileError] whose set is "indexes".
func (s IndexSet) Indexes() ([]Index, error) {
	if s.FS == nil {
		return nil, fmt.Errorf("%w: IndexSet.FS is nil; pass the folder of index files", ErrBadSet)
	}
	entries, err := fs.ReadDir(s.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("%w: index set: reading its files: %v", ErrBadSet, err)
	}
	var errs []error
	var out []Index
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.EqualFold(path.Ext(name), ".md") {
			continue
		}
		content, err := fs.ReadFile(s.FS, name)
		if err == nil {
			var ix Index
			ix, err = ParseIndexFile(name, content)
			if err == nil {
				out = append(out, ix)
				continue
			}
		}
		errs = append(errs, &FileError{Set: "indexes", File: name, Err: err})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ParseIndexFile checks one index file: its name is the index name plus
// ".sql" (lower case, at most 57 bytes so that a replacement can be built
// beside it), and it holds exactly one CREATE [UNIQUE] INDEX CONCURRENTLY
// statement creating that index. Errors wrap [ErrBadIndexFile] and say
// what to change.
func ParseIndexFile(file string, content []byte) (Index, error) {
	bad := func(format string, args ...any) (Index, error) {
		return Index{}, fmt.Errorf("%w: %s", ErrBadIndexFile, fmt.Sprintf(format, args...))
	}
	name, ok := strings.CutSuffix(file, ".sql")
	if !ok {
		return bad("%q does not end in .sql; name it after the index, e.g. orders_customer_id.sql", file)
	}
	if !indexNameRe.MatchString(name) {
		return bad("%q is not a lower-case index name (letters, digits, _ and $, not starting with a digit); rename the file to the index's name", name)
	}
	if len(name) > maxIdent-len(replaceSuffix) {
		return bad("index name %q is %d bytes; keep it to %d so that --replace can build its replacement beside it", name, len(name), maxIdent-len(replaceSuffix))
	}
	stmts := SplitStatements(string(withoutBOM(content)))
	switch len(stmts) {
	case 0:
		return bad("the file is empty; write one CREATE INDEX CONCURRENTLY %s ON table (...); in it", name)
	case 1:
	default:
		return bad("the file holds %d statements; it must hold exactly one CREATE INDEX CONCURRENTLY statement (put other indexes in files of their own)", len(stmts))
	}
	sql := stripComments(stmts[0].SQL)
	m := indexHeadRe.FindStringSubmatch(sql)
	if m == nil {
		return bad("the statement is not CREATE [UNIQUE] INDEX CONCURRENTLY %s ON table (...): %s", name, shorten(sql))
	}
	if m[2] == "" {
		return bad("CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds; write CREATE %sINDEX CONCURRENTLY %s ...", strings.ToUpper(m[1]), name)
	}
	if m[3] != "" {
		return bad("remove IF NOT EXISTS: it would keep an invalid index of that name; seatbelt index apply checks what exists itself")
	}
	if m[5] != "" {
		return bad("ON ONLY creates an invalid index on a partitioned table and cannot run CONCURRENTLY; drop ONLY")
	}
	stmtName := identName(m[4])
	if stmtName != name {
		return bad("the statement creates index %q but the file is named %s; the file name is the index name: rename one to match", stmtName, file)
	}
	rest := strings.TrimSpace(m[7])
	if rest == "" {
		return bad("the statement names no columns; write CREATE INDEX CONCURRENTLY %s ON %s (column)", name, m[6])
	}
	return Index{Name: name, File: file, Table: m[6], Unique: m[1] != "", SQL: sql, SHA256: Checksum(content), rest: rest}, nil
}

// identName returns the name an identifier denotes: a quoted one as
// written, an unquoted one folded to lower case.
func identName(id string) string {
	if strings.HasPrefix(id, `"`) {
		return strings.ReplaceAll(id[1:len(id)-1], `""`, `"`)
	}
	return strings.ToLower(id)
}

// stripComments removes -- and /* */ comments outside quotes and collapses
// white space outside quotes to one space.
func stripComments(sql string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			space = true
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			i = skipBlockComment(sql, i)
			space = true
		case c == '\'' || c == '"':
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			j := skipQuoted(sql, i, c, c == '\'' && i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e'))
			b.WriteString(sql[i:j])
			i = j
		case c == '$' && (i == 0 || !isIdentByte(sql[i-1])):
			if tag, ok := dollarTag(sql[i:]); ok {
				end := strings.Index(sql[i+len(tag):], tag)
				j := len(sql)
				if end >= 0 {
					j = i + len(tag) + end + len(tag)
				}
				if space && b.Len() > 0 {
					b.WriteByte(' ')
				}
				space = false
				b.WriteString(sql[i:j])
				i = j
				continue
			}
			fallthrough
		default:
			if isSpace(c) {
				space = true
				i++
				continue
			}
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}
