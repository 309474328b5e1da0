package eventlog

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The pool appends' statements are large, and planning one costs more than
// running it. With pgx's default query mode a statement is prepared once
// per connection and planned from then on from its cached plan. Behind
// PgBouncer in transaction mode a service must use exec or simple_protocol
// (PgBouncer before 1.21 cannot keep prepared statements), and then every
// append would be parsed and planned again: about half the throughput.
//
// So each of those statements is also a PL/pgSQL function, created by
// migration 0005, whose body is the statement itself: PostgreSQL keeps a
// function's plans per server connection, and a pooler's server
// connections live long. A Store whose pool does not cache prepared
// statements calls the functions; one whose pool does (pgx's default)
// runs the statements, where a function call costs a little more. The migration's text is
// generated from the statements below and a test holds the two equal, so a
// change to a statement needs a new migration that replaces its function.
// Its parameters and returned columns must stay as they are: a pool in
// cache_describe mode (below) keeps each call's description for the life
// of the connection, and during a rolling deploy the old binary calls the
// new function. A change to them is a function with a new name.
type appendFunction struct {
	name   string
	own    []string  // the types of the statement's own parameters, $1 on
	params rowParams // then recordRow's
	// out names and types the returned columns (not the statement's
	// column names, which would clash with the function's out parameters).
	out  string
	stmt string // the statement
	// body is the function's, returning rows in out's order; empty for
	// stmt itself.
	body string
	// called is call(), computed once.
	called string
}

var (
	appendOneFunction = withCall(appendFunction{name: "eventlog_append_one", own: []string{"bigint"}, params: oneParams,
		out: "appended_version bigint, appended_position bigint", stmt: appendOneOptimisticSQL,
		// RETURN QUERY takes a query: the INSERT goes in a WITH.
		body: "WITH ins AS (" + appendOneOptimisticSQL + ")\nSELECT ins.version, ins.position FROM ins"})
	appendManyFunction = withCall(appendFunction{name: "eventlog_append_many", own: []string{"bigint"}, params: optimisticParams,
		out: "appended_version bigint, appended_position bigint", stmt: appendOptimisticSQL})
	appendSharedFunction = withCall(appendFunction{name: "eventlog_append_shared", own: []string{"bigint[]", "bigint[]", "bigint[]"}, params: sharedParams,
		out: "appended_stream_type text, appended_stream_id text, appended_version bigint, appended_position bigint", stmt: appendSharedSQL})
)

func withCall(f appendFunction) appendFunction {
	f.called = f.call()
	return f
}

// appendFunctions are the functions migration 0005 creates, in its order.
var appendFunctions = []appendFunction{appendOneFunction, appendManyFunction, appendSharedFunction}

// statement is what a Store runs for f, with args: f's statement, or the
// call of f when the Store calls the functions.
//
// A pool in pgx's exec mode sends every parameter as text, typed by its Go
// type, and the server parses the text arrays of a shared append again
// (quoted, escaped JSON). Such a pool makes the calls in cache_describe
// mode instead: pgx learns the call's parameter types once per connection
// (and again after a call that failed, whose description it drops) and
// then sends the arrays in binary, still as an unnamed statement in one
// round trip, which PgBouncer in transaction mode passes as it passes
// exec. Seven alternating runs of single appends (bench eventlog --pooler,
// 16 writers) gave 0.79x the direct default-mode figure behind PgBouncer
// with it on average (0.70-1.01x), against 0.70x without (0.61-0.81x).
// So does a pool in describe_exec mode, whose two round trips (describe,
// then bind to the statement described) a pooler may send to two server
// connections. Not a pool whose description cache is off
// (description_cache_capacity=0), where pgx refuses cache_describe.
// simple_protocol is left as it is: a service chooses it for a pooler or
// proxy that takes no extended protocol.
func (s *Store) statement(f appendFunction, args []any) (string, []any) {
	if !s.funcs {
		return f.stmt, args
	}
	if s.describe {
		args = append([]any{pgx.QueryExecModeCacheDescribe}, args...)
	}
	return f.called, args
}

// types are the function's parameter types: its own, then recordRow's.
func (f appendFunction) types() []string {
	types := append([]string(nil), f.own...)
	for _, c := range boundColumns {
		t := c.typ
		if f.params.arrays(c) {
			t += "[]"
		}
		types = append(types, t)
	}
	return types
}

// call is the statement that calls the function with the same parameters
// as the statement it wraps.
func (f appendFunction) call() string {
	refs := make([]string, 0, len(f.own)+len(boundColumns))
	for i, t := range f.own {
		refs = append(refs, fmt.Sprintf("$%d::%s", i+1, t))
	}
	for i := range boundColumns {
		refs = append(refs, f.params.refAt(i))
	}
	return "SELECT * FROM " + f.name + "(" + strings.Join(refs, ", ") + ")"
}

// create is the function's CREATE OR REPLACE FUNCTION statement.
// #variable_conflict use_column makes a name in the body mean the column,
// as it does in the statement.
func (f appendFunction) create() string {
	return "CREATE OR REPLACE FUNCTION " + f.name + "(" + strings.Join(f.types(), ", ") + ")\n" +
		"RETURNS TABLE (" + f.out + ")\nLANGUAGE plpgsql AS $fn$\n#variable_conflict use_column\nBEGIN\nRETURN QUERY\n" +
		strings.TrimSpace(cmp.Or(f.body, f.stmt)) + ";\nEND\n$fn$;\n"
}

// appendFunctionsMigration is the text of migration 0005.
func appendFunctionsMigration() string {
	var b strings.Builder
	b.WriteString("-- Generated from eventlog/functions.go (appendFunctionsMigration); a test\n" +
		"-- holds it equal to the statements it wraps. See functions.go for why.\n")
	for _, f := range appendFunctions {
		b.WriteString("\n" + f.create())
	}
	return b.String()
}

// usesFunctions reports whether a Store on a pool of cc's mode should call
// the functions: unless the mode caches prepared statements, every mode
// plans each statement again.
func usesFunctions(cc *pgx.ConnConfig) bool {
	return cc.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement
}

// callsInCacheDescribe reports whether a Store on a pool with cc calls the
// functions in cache_describe mode (statement).
func callsInCacheDescribe(cc *pgx.ConnConfig) bool {
	switch cc.DefaultQueryExecMode {
	case pgx.QueryExecModeExec, pgx.QueryExecModeDescribeExec:
		return cc.DescriptionCacheCapacity > 0
	}
	return false
}
