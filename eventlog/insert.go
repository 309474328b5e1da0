package eventlog

import (
	"fmt"
	"strings"
)

// Appends insert records through four statements, each shaped for its path:
// one record, several, several under the stream's lock (append.go), and
// several streams at once (coalesce.go). What they insert is described once,
// by recordRow: every statement takes its column list and values
// (insertRecordsSQL) and its parameters and arguments ([rowParams]) from it,
// so a new column is one more entry there.
//
// The values read names that each statement's FROM provides, unqualified:
// a column named after each value bound per append or per record; ord, the
// record's place in its append, from 1; head_version and head_time, the
// stream's newest version and its time, NULL for a new stream. PostgreSQL
// refuses a name provided twice (ambiguous) or not at all, so such a slip
// fails every append, not some.

// rowBinding says where the value of a column comes from.
type rowBinding int

const (
	// computed values are SQL over ord, head_version and head_time.
	computed rowBinding = iota
	// perAppend values are bound once per append, the same for each of its
	// records.
	perAppend
	// perRecord values are bound once per record.
	perRecord
)

// rowColumn is one column of eventlog_records as an append sets it.
type rowColumn struct {
	name string
	bind rowBinding
	// sql is the column's value in the INSERT's SELECT list.
	sql string
	// typ is the SQL type a bound value is sent as. JSON goes as text, cast
	// in sql, so that every query mode sends the same thing.
	typ string
	// value is the bound value for r, an append of one record; values is
	// the array of them for batch: one element per append (perAppend) or
	// per record of each append in turn (perRecord).
	value  func(r *appendReq) any
	values func(batch []*appendReq) any
}

// recordRow is the row of one record, in the INSERT's column order. The
// columns left out keep their defaults: position, and xid (the inserting
// transaction, which the check after every INSERT requires).
var recordRow = []rowColumn{
	appendValue("stream_type", "text", func(r *appendReq) string { return r.stream.Type }),
	appendValue("stream_id", "text", func(r *appendReq) string { return r.stream.ID }),
	computedValue("version", "coalesce(head_version, 0) + ord"),
	recordValue("record_id", "text", func(r *appendReq) []string { return r.ids }),
	jsonb(recordValue("data", "text", func(r *appendReq) []string { return r.data })),
	jsonb(recordValue("metadata", "text", func(r *appendReq) []string { return r.meta })),
	appendValue("writer", "text", func(r *appendReq) string { return r.prov.Writer }),
	appendValue("trace_id", "text", func(r *appendReq) string { return r.prov.TraceID }),
	appendValue("span_id", "text", func(r *appendReq) string { return r.prov.SpanID }),
	appendValue("actor", "text", func(r *appendReq) string { return r.prov.Actor }),
	appendValue("reason", "text", func(r *appendReq) string { return r.prov.Reason }),
	appendValue("revert_of", "bigint", func(r *appendReq) *int64 { return r.revertOf }),
	// The database clock, never before the previous version's time: the
	// check after every INSERT (migrations/0004_check_inserts.up.sql)
	// refuses anything else.
	computedValue("recorded_at", "greatest(clock_timestamp(), head_time)"),
}

func computedValue(name, sql string) rowColumn {
	return rowColumn{name: name, bind: computed, sql: sql}
}

// appendValue is a column whose value get takes from the append.
func appendValue[T any](name, typ string, get func(r *appendReq) T) rowColumn {
	return rowColumn{name: name, bind: perAppend, sql: name, typ: typ,
		value: func(r *appendReq) any { return get(r) },
		values: func(batch []*appendReq) any {
			out := make([]T, len(batch))
			for i, r := range batch {
				out[i] = get(r)
			}
			return out
		},
	}
}

// recordValue is a column whose values, one per record, get takes from the
// append.
func recordValue[T any](name, typ string, get func(r *appendReq) []T) rowColumn {
	return rowColumn{name: name, bind: perRecord, sql: name, typ: typ,
		value: func(r *appendReq) any { return get(r)[0] },
		values: func(batch []*appendReq) any {
			if len(batch) == 1 {
				return get(batch[0])
			}
			var out []T
			for _, r := range batch {
				out = append(out, get(r)...)
			}
			return out
		},
	}
}

// jsonb stores a column sent as text as jsonb.
func jsonb(c rowColumn) rowColumn {
	c.sql += "::jsonb"
	return c
}

// insertRecordsSQL is the start of every statement that inserts records:
// INSERT INTO eventlog_records (recordRow's columns) SELECT their values.
var insertRecordsSQL = func() string {
	cols := make([]string, len(recordRow))
	vals := make([]string, len(recordRow))
	for i, c := range recordRow {
		cols[i], vals[i] = c.name, c.sql
	}
	return "INSERT INTO eventlog_records (" + strings.Join(cols, ", ") + ")\nSELECT " + strings.Join(vals, ", ")
}()

// boundColumns are recordRow's bound columns in parameter order: those
// bound per append, then those bound per record.
var boundColumns = func() []rowColumn {
	var out []rowColumn
	for _, b := range []rowBinding{perAppend, perRecord} {
		for _, c := range recordRow {
			if c.bind == b {
				out = append(out, c)
			}
		}
	}
	return out
}()

// rowParams binds recordRow's values as the parameters of one statement:
// after the statement's own, $1 to $own, come boundColumns, each one value
// or an array.
type rowParams struct {
	own int
	// appendArrays: one element per append (the statement writes several
	// streams); else one value.
	appendArrays bool
	// recordArrays: one element per record; else the one record's value.
	recordArrays bool
}

func (p rowParams) arrays(c rowColumn) bool {
	return (c.bind == perAppend && p.appendArrays) || (c.bind == perRecord && p.recordArrays)
}

func (p rowParams) refAt(i int) string {
	c := boundColumns[i]
	ref := fmt.Sprintf("$%d::%s", p.own+1+i, c.typ)
	if p.arrays(c) {
		ref += "[]"
	}
	return ref
}

// ref is the parameter of the column named name, with its type.
func (p rowParams) ref(name string) string {
	for i, c := range boundColumns {
		if c.name == name {
			return p.refAt(i)
		}
	}
	panic("eventlog: recordRow binds no column " + name)
}

// refs lists the parameters of the columns bound by b, separated by commas;
// with as, each is followed by "AS" and its name, for a one-row SELECT.
func (p rowParams) refs(b rowBinding, as bool) string {
	var out []string
	for i, c := range boundColumns {
		if c.bind == b {
			ref := p.refAt(i)
			if as {
				ref += " AS " + c.name
			}
			out = append(out, ref)
		}
	}
	return strings.Join(out, ", ")
}

// names lists the names of the columns bound by b, in parameter order.
func names(b rowBinding) string {
	var out []string
	for _, c := range boundColumns {
		if c.bind == b {
			out = append(out, c.name)
		}
	}
	return strings.Join(out, ", ")
}

// args returns the statement's arguments: its own, then recordRow's values
// for batch (one append unless appendArrays).
func (p rowParams) args(batch []*appendReq, own ...any) []any {
	if len(own) != p.own {
		panic(fmt.Sprintf("eventlog: %d own arguments for %d parameters", len(own), p.own))
	}
	out := make([]any, 0, len(own)+len(boundColumns))
	out = append(out, own...)
	for _, c := range boundColumns {
		if p.arrays(c) {
			out = append(out, c.values(batch))
		} else {
			out = append(out, c.value(batch[0]))
		}
	}
	return out
}
