package standby

import (
	"fmt"
	"strconv"
	"strings"
)

// LSN is a position in the write-ahead log, printed as PostgreSQL prints
// pg_lsn ("16/B374D848"). Zero means none.
type LSN uint64

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

// ParseLSN reads PostgreSQL's text form of a pg_lsn.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("standby: %q is not a WAL position (want the form 16/B374D848)", s)
	}
	return LSN(h<<32 | l), nil
}

// scanLSN scans a pg_lsn sent as text (NULL is zero).
type scanLSN struct{ l *LSN }

func (s scanLSN) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.l = 0
		return nil
	case string:
		l, err := ParseLSN(v)
		*s.l = l
		return err
	}
	return fmt.Errorf("standby: cannot scan %T as a WAL position", src)
}
