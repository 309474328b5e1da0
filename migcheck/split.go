package migcheck

import "strings"

// Statement is one SQL statement of a migration file.
type Statement struct {
	// SQL is the statement without the semicolon that ends it, trimmed of
	// surrounding white space.
	SQL string
	// Offset is the byte offset of SQL in the file.
	Offset int
}

// SplitStatements splits a migration file at the semicolons that end its
// statements: not at those inside quotes ('...', E'...', "..."), dollar
// quotes ($$...$$, $tag$...$tag$) or comments (-- and nested /* */).
// Statements holding nothing but white space and comments are left out.
//
// Apply runs a file that cannot run in one transaction (see [Migrator.Apply])
// one statement at a time, so that CREATE INDEX CONCURRENTLY is not inside
// the implicit transaction of a multi-statement query and each completed
// statement can be recorded.
func SplitStatements(sql string) []Statement {
	var out []Statement
	start := 0
	hasCode := false // the current statement has more than blanks and comments
	emit := func(end int) {
		if hasCode {
			text := sql[start:end]
			trimmed := strings.TrimLeft(text, " \t\r\n\f")
			off := start + len(text) - len(trimmed)
			out = append(out, Statement{SQL: strings.TrimRight(trimmed, " \t\r\n\f"), Offset: off})
		}
		hasCode = false
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ';':
			emit(i)
			i++
			start = i
			continue
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(sql)
			}
			if !hasCode {
				start = i
			}
			continue
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			i = skipBlockComment(sql, i)
			if !hasCode {
				start = i
			}
			continue
		}
		hasCode = hasCode || !isSpace(c)
		switch {
		case c == '\'':
			escapes := i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e') && (i < 2 || !isIdentByte(sql[i-2]))
			i = skipQuoted(sql, i, '\'', escapes)
		case c == '"':
			i = skipQuoted(sql, i, '"', false)
		case c == '$' && (i == 0 || !isIdentByte(sql[i-1])):
			if tag, ok := dollarTag(sql[i:]); ok {
				if j := strings.Index(sql[i+len(tag):], tag); j >= 0 {
					i += len(tag) + j + len(tag)
				} else {
					i = len(sql)
				}
			} else {
				i++
			}
		default:
			i++
		}
	}
	emit(len(sql))
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// skipQuoted returns the index after the quote that closes the one at i. A
// doubled quote is part of the text; with escapes a backslash escapes the
// next byte.
func skipQuoted(sql string, i int, q byte, escapes bool) int {
	for j := i + 1; j < len(sql); j++ {
		switch sql[j] {
		case '\\':
			if escapes {
				j++
			}
		case q:
			if j+1 < len(sql) && sql[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(sql)
}

// skipBlockComment returns the index after the comment opening at i;
// PostgreSQL's block comments nest.
func skipBlockComment(sql string, i int) int {
	depth := 0
	for j := i; j < len(sql); {
		switch {
		case strings.HasPrefix(sql[j:], "/*"):
			depth++
			j += 2
		case strings.HasPrefix(sql[j:], "*/"):
			depth--
			j += 2
			if depth == 0 {
				return j
			}
		default:
			j++
		}
	}
	return len(sql)
}

// dollarTag returns the $tag$ that s starts with, if it is one.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1], true
		}
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || (j > 1 && c >= '0' && c <= '9') {
			continue
		}
		return "", false
	}
	return "", false
}
