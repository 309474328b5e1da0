package eventlog

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The longest names, in bytes. Stream names and record ids are keys of
// B-tree indexes, whose entries PostgreSQL caps at about 2.7 kB (a third of
// a page); these limits keep a stream's key well below that, and a name
// that breaks one is refused before the database sees it.
const (
	// MaxStreamTypeLen is the longest Stream.Type.
	MaxStreamTypeLen = 256
	// MaxStreamIDLen is the longest Stream.ID.
	MaxStreamIDLen = 1024
	// MaxRecordIDLen is the longest NewRecord.ID.
	MaxRecordIDLen = 256
	// MaxConsumerNameLen is the longest consumer name.
	MaxConsumerNameLen = 256
)

// Check returns nil when s is a stream name an append takes, else an
// [ErrBadStream] saying what is wrong: a missing part, a part over its
// limit, a NUL byte or invalid UTF-8.
func (s Stream) Check() error { return s.check() }

func (s Stream) check() error {
	if s.Type == "" || s.ID == "" {
		return fmt.Errorf("%w: Stream.Type and Stream.ID must both be set (got %s)", ErrBadStream, shorten(s.String()))
	}
	if err := checkName("Stream.Type", s.Type, MaxStreamTypeLen, "MaxStreamTypeLen"); err != nil {
		return fmt.Errorf("%w: %v", ErrBadStream, err)
	}
	if err := checkName("Stream.ID", s.ID, MaxStreamIDLen, "MaxStreamIDLen"); err != nil {
		return fmt.Errorf("%w: %v", ErrBadStream, err)
	}
	return nil
}

// checkName refuses what PostgreSQL's text cannot store or its index
// cannot hold: more than max bytes, a NUL byte, invalid UTF-8.
func checkName(field, v string, max int, maxName string) error {
	if len(v) > max {
		return fmt.Errorf("%s is %d bytes; the limit is %d (eventlog.%s): use a shorter name, e.g. a hash of this one (%s)",
			field, len(v), max, maxName, shorten(v))
	}
	return checkText(field, v)
}

// checkText refuses what PostgreSQL's text cannot store: a NUL byte,
// invalid UTF-8. Sent, either failed the statement with a bare database
// error (aborting an AppendTx caller's transaction).
func checkText(field, v string) error {
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("%s contains a NUL byte, which PostgreSQL text cannot store (%s): leave it out, or encode it (hex, base64)", field, shorten(v))
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not valid UTF-8 (%s): use UTF-8 text, or encode it (hex, base64)", field, shorten(v))
	}
	return nil
}

// shorten quotes v for an error message, cut to its first 64 bytes.
func shorten(v string) string {
	const keep = 64
	if len(v) <= keep {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%q... (%d bytes)", v[:keep], len(v))
}
