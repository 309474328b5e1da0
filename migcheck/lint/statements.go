package lint

import (
	"fmt"
	"strings"
	"unicode"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// accessExclusiveLock is LOCK TABLE's default mode, as PostgreSQL numbers it.
const accessExclusiveLock = 8

func (f *file) statement(n *pg.Node) {
	switch s := n.GetNode().(type) {
	case *pg.Node_TransactionStmt:
		switch s.TransactionStmt.Kind {
		case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
			f.inTx = true
		case pg.TransactionStmtKind_TRANS_STMT_COMMIT, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK,
			pg.TransactionStmtKind_TRANS_STMT_PREPARE:
			f.inTx = false
		}
	case *pg.Node_VariableSetStmt:
		f.setVariable(s.VariableSetStmt)
	case *pg.Node_CreateStmt:
		key := relKey(s.CreateStmt.Relation)
		f.markNew(key)
		for _, elt := range s.CreateStmt.TableElts {
			if c := elt.GetConstraint(); c != nil {
				f.rememberCheck(key, c)
			}
		}
	case *pg.Node_CreateTableAsStmt:
		if into := s.CreateTableAsStmt.Into; into != nil {
			f.markNew(relKey(into.Rel))
		}
	case *pg.Node_IndexStmt:
		f.createIndex(s.IndexStmt)
	case *pg.Node_DropStmt:
		f.drop(s.DropStmt)
	case *pg.Node_DropdbStmt:
		f.report(DropDatabase, quote(s.DropdbStmt.Dbname))
	case *pg.Node_ReindexStmt:
		f.reindex(s.ReindexStmt)
	case *pg.Node_AlterTableStmt:
		f.alterTable(s.AlterTableStmt)
	case *pg.Node_RenameStmt:
		f.rename(s.RenameStmt)
	case *pg.Node_TruncateStmt:
		for _, r := range s.TruncateStmt.Relations {
			if rv := r.GetRangeVar(); rv != nil && f.existing(rv) {
				f.report(Truncate, quote(relKey(rv)))
				f.needsLockTimeout("TRUNCATE " + quote(relKey(rv)))
			}
		}
	case *pg.Node_VacuumStmt:
		v := s.VacuumStmt
		if !v.IsVacuumcmd || !optionOn(v.Options, "full") {
			return
		}
		if len(v.Rels) == 0 {
			f.report(VacuumFull, "every table")
			return
		}
		for _, r := range v.Rels {
			if rv := r.GetVacuumRelation().GetRelation(); rv != nil && f.existing(rv) {
				// No missing-lock-timeout as well: VACUUM cannot share
				// its file with a SET, so that advice could not be followed.
				f.report(VacuumFull, quote(relKey(rv)))
			}
		}
	case *pg.Node_ClusterStmt:
		rv := s.ClusterStmt.Relation
		switch {
		case rv == nil:
			f.report(Cluster, "every clustered table")
		case f.existing(rv):
			f.report(Cluster, quote(relKey(rv)))
			f.needsLockTimeout("CLUSTER " + quote(relKey(rv)))
		}
	case *pg.Node_LockStmt:
		mode := s.LockStmt.Mode
		if mode != accessExclusiveLock {
			return
		}
		for _, r := range s.LockStmt.Relations {
			if rv := r.GetRangeVar(); rv != nil && f.existing(rv) {
				f.needsLockTimeout("LOCK TABLE " + quote(relKey(rv)))
			}
		}
	}
}

func (f *file) setVariable(s *pg.VariableSetStmt) {
	if s.Name != "lock_timeout" && s.Kind != pg.VariableSetKind_VAR_RESET_ALL {
		return
	}
	switch s.Kind {
	case pg.VariableSetKind_VAR_SET_VALUE:
		f.lockTimeout = len(s.Args) == 1 && !isZero(s.Args[0])
	case pg.VariableSetKind_VAR_SET_DEFAULT, pg.VariableSetKind_VAR_RESET, pg.VariableSetKind_VAR_RESET_ALL:
		f.lockTimeout = false // the server default is 0: wait forever
	}
}

// isZero reports whether a lock_timeout value is 0 ('0', '0s', 0), which
// means no timeout at all.
func isZero(n *pg.Node) bool {
	c := n.GetAConst()
	var v string
	switch {
	case c == nil:
		return false
	case c.GetIval() != nil:
		return c.GetIval().Ival == 0
	case c.GetFval() != nil:
		v = c.GetFval().Fval
	case c.GetSval() != nil:
		v = c.GetSval().Sval
	}
	num := strings.TrimSpace(strings.TrimRightFunc(strings.TrimSpace(v), unicode.IsLetter))
	return num != "" && strings.Trim(num, "0.") == ""
}

func (f *file) createIndex(s *pg.IndexStmt) {
	table := relKey(s.Relation)
	if s.Idxname != "" {
		f.newIndexes[qualify(s.Relation.GetSchemaname(), s.Idxname)] = f.res != nil
	}
	what := "index on " + quote(table)
	if s.Idxname != "" {
		what = "index " + quote(s.Idxname) + " on " + quote(table)
	}
	if s.Concurrent {
		f.concurrent("CREATE INDEX CONCURRENTLY")
	}
	if !f.existing(s.Relation) {
		return
	}
	if !s.Concurrent {
		f.report(CreateIndexNotConcurrently, what)
	}
	if f.cfg.Strict {
		f.report(IndexInMigration, what)
	}
}

func (f *file) drop(s *pg.DropStmt) {
	switch s.RemoveType {
	case pg.ObjectType_OBJECT_INDEX:
		if s.Concurrent {
			f.concurrent("DROP INDEX CONCURRENTLY")
		}
		for _, o := range s.Objects {
			key := nameKey(o)
			if f.newIndexes[key] {
				delete(f.newIndexes, key)
				continue
			}
			if !s.Concurrent {
				f.report(DropIndexNotConcurrently, "index "+quote(key))
				f.needsLockTimeout("DROP INDEX " + quote(key))
			}
		}
	case pg.ObjectType_OBJECT_TABLE:
		for _, o := range s.Objects {
			key := nameKey(o)
			delete(f.checks, key)
			if f.newTables[key] {
				delete(f.newTables, key)
				continue
			}
			f.report(DropTable, quote(key))
			f.needsLockTimeout("DROP TABLE " + quote(key))
		}
	}
}

func (f *file) reindex(s *pg.ReindexStmt) {
	concurrently := optionOn(s.Params, "concurrently")
	if concurrently {
		f.concurrent("REINDEX CONCURRENTLY")
	}
	var what string
	switch s.Kind {
	case pg.ReindexObjectType_REINDEX_OBJECT_INDEX:
		key := relKey(s.Relation)
		if f.newIndexes[key] {
			return
		}
		what = "index " + quote(key)
	case pg.ReindexObjectType_REINDEX_OBJECT_TABLE:
		if !f.existing(s.Relation) {
			return
		}
		what = "table " + quote(relKey(s.Relation))
	default:
		what = strings.ToLower(strings.TrimPrefix(s.Kind.String(), "REINDEX_OBJECT_")) + " " + quote(s.Name)
	}
	if !concurrently {
		f.report(ReindexNotConcurrently, what)
	}
	if f.cfg.Strict {
		f.report(IndexInMigration, "REINDEX "+what)
	}
}

func (f *file) rename(s *pg.RenameStmt) {
	switch s.RenameType {
	case pg.ObjectType_OBJECT_TABLE:
		old := relKey(s.Relation)
		renamed := qualify(s.Relation.GetSchemaname(), s.Newname)
		if checks, ok := f.checks[old]; ok {
			f.checks[renamed] = checks
			delete(f.checks, old)
		}
		if f.newTables[old] {
			delete(f.newTables, old)
			f.newTables[renamed] = true
			return
		}
		f.report(RenameTable, quote(old)+" to "+quote(s.Newname))
		f.needsLockTimeout("ALTER TABLE " + quote(old) + " RENAME")
	case pg.ObjectType_OBJECT_COLUMN:
		if s.RelationType != pg.ObjectType_OBJECT_TABLE || !f.existing(s.Relation) {
			return
		}
		f.report(RenameColumn, quote(relKey(s.Relation)+"."+s.Subname)+" to "+quote(s.Newname))
		f.needsLockTimeout("ALTER TABLE " + quote(relKey(s.Relation)) + " RENAME COLUMN")
	}
}

func relKey(rv *pg.RangeVar) string {
	if rv == nil {
		return ""
	}
	return qualify(rv.Schemaname, rv.Relname)
}

// qualify names an object the way the linter keys it: public is the schema
// an unqualified name means, so "public.t" and "t" are one table.
func qualify(schema, name string) string {
	if schema == "" || schema == "public" {
		return name
	}
	return schema + "." + name
}

// nameKey keys a DROP object, which is a list of name parts.
func nameKey(n *pg.Node) string {
	var parts []string
	for _, p := range n.GetList().GetItems() {
		parts = append(parts, p.GetString_().GetSval())
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return qualify(parts[len(parts)-2], parts[len(parts)-1])
}

// optionOn reports whether a parenthesised option such as (FULL) or
// (CONCURRENTLY) is on: present without a value, or with a true one.
func optionOn(opts []*pg.Node, name string) bool {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defname != name {
			continue
		}
		if d.Arg == nil {
			return true
		}
		if s := d.Arg.GetString_(); s != nil {
			switch strings.ToLower(s.Sval) {
			case "false", "off", "0", "no":
				return false
			}
			return true
		}
		if i := d.Arg.GetInteger(); i != nil {
			return i.Ival != 0
		}
		if b := d.Arg.GetBoolean(); b != nil {
			return b.Boolval
		}
		return true
	}
	return false
}

func quote(name string) string { return fmt.Sprintf("%q", name) }
