package tracing

import "strings"

// operations are the statement keywords a span name or metric label may
// carry. Anything else (a prepared statement's name, a typo) becomes "OTHER",
// so that the set of names stays small whatever SQL the service sends.
var operations = map[string]bool{
	"SELECT": true, "INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true,
	"COPY": true, "VALUES": true, "TABLE": true, "CALL": true, "DO": true,
	"CREATE": true, "ALTER": true, "DROP": true, "TRUNCATE": true, "COMMENT": true,
	"GRANT": true, "REVOKE": true, "REFRESH": true, "REINDEX": true, "CLUSTER": true,
	"VACUUM": true, "ANALYZE": true, "EXPLAIN": true, "LOCK": true,
	"BEGIN": true, "START": true, "COMMIT": true, "END": true, "ROLLBACK": true, "ABORT": true,
	"SAVEPOINT": true, "RELEASE": true, "PREPARE": true, "EXECUTE": true, "DEALLOCATE": true,
	"SET": true, "SHOW": true, "RESET": true, "DISCARD": true,
	"LISTEN": true, "UNLISTEN": true, "NOTIFY": true,
	"DECLARE": true, "FETCH": true, "MOVE": true, "CLOSE": true,
}

// maxIdent bounds a collection name: PostgreSQL truncates identifiers to 63
// bytes, and a schema-qualified name has two of them.
const maxIdent = 2*63 + 1

// summarize returns the statement's operation (an upper-case keyword from
// operations, or "OTHER") and the table it works on, if it is simple to tell.
// It never returns literals: the table is an identifier read from the SQL
// text, not a value. A WITH query is named after its main statement.
func summarize(sql string) (operation, table string) {
	l := lexer{s: sql}
	first := strings.ToUpper(l.next())
	if first == "WITH" {
		// Skip the CTEs: the main statement is the first keyword at depth 0
		// after WITH that is a data-modifying or query verb.
		for tok := l.next(); tok != ""; tok = l.next() {
			switch up := strings.ToUpper(tok); up {
			case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE":
				first = up
				goto found
			}
		}
		return "OTHER", ""
	}
found:
	if !operations[first] {
		return "OTHER", ""
	}
	var after string
	switch first {
	case "SELECT", "DELETE":
		after = "FROM"
	case "INSERT", "MERGE":
		after = "INTO"
	case "UPDATE", "COPY", "TABLE":
		return first, ident(l.next())
	case "TRUNCATE":
		tok := l.next()
		if strings.EqualFold(tok, "TABLE") {
			tok = l.next()
		}
		return first, ident(tok)
	default:
		return first, ""
	}
	for tok := l.next(); tok != ""; tok = l.next() {
		if strings.EqualFold(tok, after) {
			if l.atParen() {
				return first, "" // a subquery, not a table
			}
			return first, ident(l.next())
		}
	}
	return first, ""
}

// ident returns tok if it is a plain or schema-qualified identifier, else "".
func ident(tok string) string {
	if tok == "" || len(tok) > maxIdent {
		return ""
	}
	switch strings.ToUpper(tok) {
	case "ONLY", "LATERAL", "FROM", "WHERE", "SET":
		return ""
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c == '_' || c == '.' || c == '"' || c == '$' || c >= '0' && c <= '9' ||
			c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return ""
		}
	}
	if tok[0] >= '0' && tok[0] <= '9' || tok[0] == '$' || tok[0] == '.' {
		return ""
	}
	return tok
}

// lexer yields the words of a statement at parenthesis depth 0, skipping
// comments, string literals, numbers' neighbours, and anything in parentheses.
// It is not a SQL parser: it only needs to find a few keywords.
type lexer struct {
	s     string
	i     int
	depth int
}

func (l *lexer) next() string {
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == '-' && strings.HasPrefix(l.s[l.i:], "--"):
			if j := strings.IndexByte(l.s[l.i:], '\n'); j >= 0 {
				l.i += j + 1
			} else {
				l.i = len(l.s)
			}
		case c == '/' && strings.HasPrefix(l.s[l.i:], "/*"):
			if j := strings.Index(l.s[l.i+2:], "*/"); j >= 0 {
				l.i += j + 4
			} else {
				l.i = len(l.s)
			}
		case c == '\'':
			l.skipQuoted('\'')
		case c == '$' && l.dollarQuote():
		case c == '(':
			l.depth++
			l.i++
		case c == ')':
			if l.depth > 0 {
				l.depth--
			}
			l.i++
		case isWordByte(c) || c == '"':
			start := l.i
			for l.i < len(l.s) && (isWordByte(l.s[l.i]) || l.s[l.i] == '"' || l.s[l.i] == '.') {
				if l.s[l.i] == '"' {
					l.skipQuoted('"')
					continue
				}
				l.i++
			}
			if l.depth == 0 {
				return l.s[start:l.i]
			}
		default:
			l.i++
		}
	}
	return ""
}

// atParen reports whether the next thing after blanks and comments is "(",
// leaving the lexer there.
func (l *lexer) atParen() bool {
	for l.i < len(l.s) {
		rest := l.s[l.i:]
		switch {
		case rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r':
			l.i++
		case strings.HasPrefix(rest, "--"):
			j := strings.IndexByte(rest, '\n')
			if j < 0 {
				return false
			}
			l.i += j + 1
		case strings.HasPrefix(rest, "/*"):
			j := strings.Index(rest[2:], "*/")
			if j < 0 {
				return false
			}
			l.i += j + 4
		default:
			return rest[0] == '('
		}
	}
	return false
}

// skipQuoted moves past a quoted string or identifier, where a doubled quote
// stands for itself.
func (l *lexer) skipQuoted(q byte) {
	l.i++
	for l.i < len(l.s) {
		if l.s[l.i] == q {
			if l.i+1 < len(l.s) && l.s[l.i+1] == q {
				l.i += 2
				continue
			}
			l.i++
			return
		}
		l.i++
	}
}

// dollarQuote skips a $tag$...$tag$ string if one starts here.
func (l *lexer) dollarQuote() bool {
	rest := l.s[l.i+1:]
	end := strings.IndexByte(rest, '$')
	if end < 0 {
		return false
	}
	for i := 0; i < end; i++ {
		if !isWordByte(rest[i]) || rest[i] >= '0' && rest[i] <= '9' && i == 0 {
			return false
		}
	}
	tag := l.s[l.i : l.i+end+2]
	body := l.s[l.i+len(tag):]
	if j := strings.Index(body, tag); j >= 0 {
		l.i += len(tag) + j + len(tag)
	} else {
		l.i = len(l.s)
	}
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
