package lint

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// weakerLock lists the ALTER TABLE subcommands that take less than an
// ACCESS EXCLUSIVE lock (PostgreSQL's ALTER TABLE documentation).
var weakerLock = map[pg.AlterTableType]bool{
	pg.AlterTableType_AT_ValidateConstraint: true, // SHARE UPDATE EXCLUSIVE
	pg.AlterTableType_AT_SetStatistics:      true,
	pg.AlterTableType_AT_SetOptions:         true,
	pg.AlterTableType_AT_ResetOptions:       true,
	pg.AlterTableType_AT_SetRelOptions:      true,
	pg.AlterTableType_AT_ResetRelOptions:    true,
	pg.AlterTableType_AT_ClusterOn:          true,
	pg.AlterTableType_AT_DropCluster:        true,
	pg.AlterTableType_AT_AttachPartition:    true,
	pg.AlterTableType_AT_EnableTrig:         true, // SHARE ROW EXCLUSIVE
	pg.AlterTableType_AT_EnableAlwaysTrig:   true,
	pg.AlterTableType_AT_EnableReplicaTrig:  true,
	pg.AlterTableType_AT_EnableTrigAll:      true,
	pg.AlterTableType_AT_EnableTrigUser:     true,
	pg.AlterTableType_AT_DisableTrig:        true,
	pg.AlterTableType_AT_DisableTrigAll:     true,
	pg.AlterTableType_AT_DisableTrigUser:    true,
}

func (f *file) alterTable(s *pg.AlterTableStmt) {
	if s.Objtype != pg.ObjectType_OBJECT_TABLE {
		return
	}
	table := relKey(s.Relation)
	existing := f.existing(s.Relation)
	exclusive := false
	for _, n := range s.Cmds {
		cmd := n.GetAlterTableCmd()
		if cmd == nil {
			continue
		}
		if !weakerLock[cmd.Subtype] && !isForeignKey(cmd) && !isConcurrentDetach(cmd) {
			exclusive = true
		}
		col := quote(table + "." + cmd.Name)
		switch cmd.Subtype {
		case pg.AlterTableType_AT_AddConstraint:
			c := cmd.Def.GetConstraint()
			f.rememberCheck(table, c)
			if existing {
				f.addConstraint(table, c)
			}
		case pg.AlterTableType_AT_ValidateConstraint:
			if chk := f.checks[table][cmd.Name]; chk != nil {
				chk.valid = true
			}
			if f.addedNotValid[table+"."+cmd.Name] && (f.inTx || !f.cfg.MultiStatement) {
				// ADD ... NOT VALID took its lock in this transaction and
				// holds it until COMMIT, so the scan runs under it anyway.
				f.report(ConstraintWithoutNotValid, "VALIDATE CONSTRAINT "+quote(cmd.Name)+" in the transaction that added it")
			}
		case pg.AlterTableType_AT_DropConstraint:
			delete(f.checks[table], cmd.Name)
		case pg.AlterTableType_AT_DetachPartition:
			if isConcurrentDetach(cmd) {
				f.concurrent("DETACH PARTITION CONCURRENTLY")
			}
		}
		if !existing {
			continue
		}
		switch cmd.Subtype {
		case pg.AlterTableType_AT_AddColumn:
			f.addColumn(table, cmd.Def.GetColumnDef())
		case pg.AlterTableType_AT_SetNotNull:
			if !f.provenNotNull(table, cmd.Name) {
				f.report(SetNotNull, col)
			}
		case pg.AlterTableType_AT_AlterColumnType:
			f.report(ChangeColumnType, col)
		case pg.AlterTableType_AT_DropColumn:
			f.report(DropColumn, col)
		}
	}
	if existing && exclusive {
		f.needsLockTimeout("ALTER TABLE " + quote(table))
	}
}

func isForeignKey(cmd *pg.AlterTableCmd) bool {
	c := cmd.Def.GetConstraint()
	return cmd.Subtype == pg.AlterTableType_AT_AddConstraint && c != nil && c.Contype == pg.ConstrType_CONSTR_FOREIGN
}

func isConcurrentDetach(cmd *pg.AlterTableCmd) bool {
	return cmd.Subtype == pg.AlterTableType_AT_DetachPartition && cmd.Def.GetPartitionCmd().GetConcurrent()
}

func (f *file) addConstraint(table string, c *pg.Constraint) {
	if c == nil {
		return
	}
	name := quote(table)
	if c.Conname != "" {
		name = quote(c.Conname) + " on " + quote(table)
	}
	if c.SkipValidation && c.Conname != "" {
		f.addedNotValid[table+"."+c.Conname] = true
	}
	switch c.Contype {
	case pg.ConstrType_CONSTR_FOREIGN:
		if !c.SkipValidation {
			f.report(ConstraintWithoutNotValid, "FOREIGN KEY "+name)
		}
	case pg.ConstrType_CONSTR_CHECK:
		if !c.SkipValidation {
			f.report(ConstraintWithoutNotValid, "CHECK "+name)
		}
	case pg.ConstrType_CONSTR_UNIQUE, pg.ConstrType_CONSTR_PRIMARY:
		if c.Indexname == "" {
			kind := "UNIQUE "
			if c.Contype == pg.ConstrType_CONSTR_PRIMARY {
				kind = "PRIMARY KEY "
			}
			f.report(AddUniqueWithoutIndex, kind+name)
			if f.cfg.Strict {
				f.report(IndexInMigration, kind+name)
			}
		}
	case pg.ConstrType_CONSTR_EXCLUSION:
		if f.cfg.Strict {
			f.report(IndexInMigration, "EXCLUDE "+name)
		}
	}
}

func (f *file) addColumn(table string, def *pg.ColumnDef) {
	if def == nil {
		return
	}
	col := quote(table + "." + def.Colname)
	notNull, hasDefault := def.IsNotNull, false
	if serialTypes[typeName(def.TypeName)] {
		f.report(VolatileDefault, col+" ("+typeName(def.TypeName)+")")
		hasDefault = true
	}
	for _, n := range def.Constraints {
		c := n.GetConstraint()
		if c == nil {
			continue
		}
		switch c.Contype {
		case pg.ConstrType_CONSTR_NOTNULL:
			notNull = true
		case pg.ConstrType_CONSTR_PRIMARY:
			notNull = true
			f.report(AddUniqueWithoutIndex, "PRIMARY KEY column "+col)
		case pg.ConstrType_CONSTR_UNIQUE:
			f.report(AddUniqueWithoutIndex, "UNIQUE column "+col)
		case pg.ConstrType_CONSTR_DEFAULT:
			hasDefault = true
			if fn := volatileCall(c.RawExpr); fn != "" {
				f.report(VolatileDefault, col+" (DEFAULT calls "+fn+")")
			}
		case pg.ConstrType_CONSTR_IDENTITY:
			hasDefault = true
			f.report(VolatileDefault, col+" (identity)")
		case pg.ConstrType_CONSTR_GENERATED:
			hasDefault = true
			f.report(VolatileDefault, col+" (stored generated column)")
		}
	}
	if notNull && !hasDefault {
		f.report(AddColumnNotNullNoDefault, col)
	}
}

var serialTypes = map[string]bool{
	"serial": true, "serial4": true, "bigserial": true, "serial8": true, "smallserial": true, "serial2": true,
}

func typeName(t *pg.TypeName) string {
	if t == nil || len(t.Names) == 0 {
		return ""
	}
	return t.Names[len(t.Names)-1].GetString_().GetSval()
}

// nonVolatile lists functions commonly used in defaults that PostgreSQL
// marks STABLE or IMMUTABLE: with them, ADD COLUMN ... DEFAULT stores one
// value in the catalog instead of rewriting the table. Any other function
// counts as volatile, which is also CREATE FUNCTION's default.
var nonVolatile = map[string]bool{
	"now": true, "transaction_timestamp": true, "statement_timestamp": true,
	"current_setting": true, "current_database": true, "current_schema": true,
	"lower": true, "upper": true, "btrim": true, "ltrim": true, "rtrim": true, "concat": true,
	"length": true, "abs": true, "round": true, "floor": true, "ceil": true, "md5": true,
	"date_trunc": true, "to_timestamp": true, "to_date": true, "to_char": true, "timezone": true,
	"make_interval": true, "make_date": true, "make_timestamp": true, "make_timestamptz": true,
	"to_json": true, "to_jsonb": true, "json_build_object": true, "jsonb_build_object": true,
	"json_build_array": true, "jsonb_build_array": true, "array_to_json": true,
}

// volatileCall returns the name of the first volatile function an
// expression calls, or "".
func volatileCall(expr *pg.Node) string {
	if expr == nil {
		return ""
	}
	found := ""
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if found != "" {
			return
		}
		if fc, ok := m.Interface().(*pg.FuncCall); ok && len(fc.Funcname) > 0 {
			name := fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval()
			if !nonVolatile[strings.ToLower(name)] {
				found = name + "()"
				return
			}
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				walk(v.Message())
			}
			return found == ""
		})
	}
	walk(expr.ProtoReflect())
	return found
}

// rememberCheck records a CHECK constraint that proves columns are not null,
// so a later SET NOT NULL on them needs no scan once it is validated.
func (f *file) rememberCheck(table string, c *pg.Constraint) {
	if c == nil || c.Contype != pg.ConstrType_CONSTR_CHECK {
		return
	}
	cols := notNullColumns(c.RawExpr)
	if len(cols) == 0 {
		return
	}
	if f.checks[table] == nil {
		f.checks[table] = map[string]*notNullCheck{}
	}
	f.checks[table][c.Conname] = &notNullCheck{columns: cols, valid: !c.SkipValidation}
}

// notNullColumns returns the columns "col IS NOT NULL [AND ...]" proves.
func notNullColumns(n *pg.Node) []string {
	if t := n.GetNullTest(); t != nil && t.Nulltesttype == pg.NullTestType_IS_NOT_NULL {
		fields := t.Arg.GetColumnRef().GetFields()
		if len(fields) > 0 {
			return []string{fields[len(fields)-1].GetString_().GetSval()}
		}
	}
	if b := n.GetBoolExpr(); b != nil && b.Boolop == pg.BoolExprType_AND_EXPR {
		var cols []string
		for _, a := range b.Args {
			cols = append(cols, notNullColumns(a)...)
		}
		return cols
	}
	return nil
}

func (f *file) provenNotNull(table, column string) bool {
	for _, chk := range f.checks[table] {
		if !chk.valid {
			continue
		}
		for _, c := range chk.columns {
			if c == column {
				return true
			}
		}
	}
	return false
}
