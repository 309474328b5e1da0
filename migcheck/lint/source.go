package lint

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// source is one file's text with what is needed to turn byte offsets into
// line:col and to find the comments in front of each statement.
type source struct {
	path   string
	text   string
	starts []int // byte offset of each line's start
	tokens []*pg.ScanToken
}

func newSource(path string, content []byte) *source {
	// A byte-order mark becomes spaces, so offsets and columns still match
	// the file as an editor shows it.
	text := string(content)
	if strings.HasPrefix(text, "\ufeff") {
		text = "   " + text[3:]
	}
	s := &source{path: path, text: text, starts: []int{0}}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			s.starts = append(s.starts, i+1)
		}
	}
	return s
}

// pos turns a byte offset into a 1-based line and byte column.
func (s *source) pos(off int) (line, col int) {
	off = max(0, min(off, len(s.text)))
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] > off }) - 1
	return i + 1, off - s.starts[i] + 1
}

// parse runs PostgreSQL's parser. A rejected file becomes a *ParseError
// placed where the parser stopped.
func (s *source) parse() (*pg.ParseResult, *ParseError) {
	if i := strings.IndexByte(s.text, 0); i >= 0 {
		return nil, s.errorAt(i, "the file contains a NUL byte, which PostgreSQL never accepts in SQL")
	}
	tree, err := pg.Parse(s.text)
	if err != nil {
		var pe *parser.Error
		if errors.As(err, &pe) {
			return nil, s.errorAt(s.charOffset(pe.Cursorpos), pe.Message)
		}
		return nil, s.errorAt(0, err.Error())
	}
	// Scanning again finds the comments, which the parse tree drops. The
	// parser accepted the text, so the scanner does too; if it ever did not,
	// statements are still linted, only ignore comments are not seen.
	if scan, err := pg.Scan(s.text); err == nil {
		s.tokens = scan.Tokens
	}
	return tree, nil
}

func (s *source) errorAt(off int, msg string) *ParseError {
	line, col := s.pos(off)
	return &ParseError{Path: s.path, Line: line, Col: col, Msg: msg}
}

// charOffset turns PostgreSQL's 1-based character position into a byte
// offset; 0 (unknown) is the start of the file.
func (s *source) charOffset(cursor int) int {
	off := 0
	for n := 1; n < cursor && off < len(s.text); n++ {
		_, size := utf8.DecodeRuneInString(s.text[off:])
		off += size
	}
	return off
}

// statement is one top-level statement: where its first token is, and the
// seatbelt:ignore comments in front of it.
type statement struct {
	raw     *pg.RawStmt
	start   int // byte offset of the first token
	ignores []ignore
}

type ignore struct {
	at     int // byte offset of the comment
	rules  []string
	reason string
}

const directive = "seatbelt:ignore"

// statements pairs each parsed statement with its leading comments.
func (s *source) statements(tree *pg.ParseResult) []statement {
	out := make([]statement, 0, len(tree.Stmts))
	t := 0
	for _, raw := range tree.Stmts {
		from := int(raw.StmtLocation)
		st := statement{raw: raw, start: from}
		for t < len(s.tokens) && int(s.tokens[t].Start) < from {
			t++
		}
		for ; t < len(s.tokens); t++ {
			tok := s.tokens[t]
			if tok.Token != pg.Token_SQL_COMMENT && tok.Token != pg.Token_C_COMMENT {
				st.start = int(tok.Start)
				break
			}
			if ig, ok := parseIgnore(s.text[tok.Start:tok.End]); ok {
				ig.at = int(tok.Start)
				st.ignores = append(st.ignores, ig)
			}
		}
		if s.tokens == nil {
			st.start = from + len(s.text[from:]) - len(strings.TrimLeft(s.text[from:], " \t\r\n"))
		}
		out = append(out, st)
	}
	return out
}

// parseIgnore reads "-- seatbelt:ignore rule[,rule] reason" or the same in
// a /* */ comment.
func parseIgnore(comment string) (ignore, bool) {
	body := strings.TrimPrefix(comment, "--")
	if strings.HasPrefix(comment, "/*") {
		body = strings.TrimSuffix(strings.TrimPrefix(comment, "/*"), "*/")
	}
	body = strings.TrimSpace(body)
	rest, ok := strings.CutPrefix(body, directive)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return ignore{}, false
	}
	fields := strings.Fields(rest)
	var ig ignore
	if len(fields) > 0 {
		ig.rules = strings.Split(fields[0], ",")
		ig.reason = strings.Join(fields[1:], " ")
	}
	return ig, true
}

// check returns what is wrong with an ignore comment, or "".
func (ig ignore) check() string {
	if len(ig.rules) == 0 {
		return "seatbelt:ignore names no rule"
	}
	for _, r := range ig.rules {
		if _, ok := ruleByName[r]; !ok || r == InvalidIgnore {
			return fmt.Sprintf("seatbelt:ignore names unknown rule %q", r)
		}
	}
	if ig.reason == "" {
		return fmt.Sprintf("seatbelt:ignore %s gives no reason", strings.Join(ig.rules, ","))
	}
	return ""
}
