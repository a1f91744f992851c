package pgsql

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Advisory lock functions (pg_advisory_lock and its kin) have effects on
// the session, so they are not engine functions: a SELECT of nothing but
// calls of them (SELECT pg_advisory_unlock_all(), as asyncpg's pool runs
// on every release; SELECT pg_try_advisory_lock($1)) is a statement of its
// own kind that the front end runs with its lock table.

// AdvisoryCall is one advisory lock function call of a KindAdvisory
// statement.
type AdvisoryCall struct {
	Func   string // the function's name, lower case
	Column string // the result column's name
	Args   []AdvisoryArg
}

// AdvisoryArg is an argument: a constant, or the statement's parameter
// Param (1-based) when Param > 0.
type AdvisoryArg struct {
	Value int64
	Param int
}

// advisoryFuncs are the advisory lock functions and how many arguments
// each takes (1: a bigint key; 2: two integer keys).
var advisoryFuncs = map[string][]int{
	"pg_advisory_lock": {1, 2}, "pg_advisory_lock_shared": {1, 2},
	"pg_try_advisory_lock": {1, 2}, "pg_try_advisory_lock_shared": {1, 2},
	"pg_advisory_unlock": {1, 2}, "pg_advisory_unlock_shared": {1, 2},
	"pg_advisory_xact_lock": {1, 2}, "pg_advisory_xact_lock_shared": {1, 2},
	"pg_try_advisory_xact_lock": {1, 2}, "pg_try_advisory_xact_lock_shared": {1, 2},
	"pg_advisory_unlock_all": {0},
}

// IsAdvisoryFunc reports whether name is an advisory lock function.
func IsAdvisoryFunc(name string) bool { _, ok := advisoryFuncs[strings.ToLower(name)]; return ok }

// classifyAdvisory makes st KindAdvisory when s selects only advisory lock
// calls with constant or parameter arguments; ok is false otherwise.
func classifyAdvisory(st *Statement, s *pg_query.SelectStmt) (ok bool, err error) {
	if len(s.TargetList) == 0 || len(s.FromClause) > 0 || s.WhereClause != nil || len(s.GroupClause) > 0 ||
		s.HavingClause != nil || s.WithClause != nil || s.Larg != nil || len(s.ValuesLists) > 0 ||
		len(s.SortClause) > 0 || s.LimitCount != nil || s.LimitOffset != nil || len(s.DistinctClause) > 0 {
		return false, nil
	}
	var calls []AdvisoryCall
	for _, t := range s.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return false, nil
		}
		fc := rt.Val.GetFuncCall()
		if fc == nil {
			return false, nil
		}
		schema, name := funcName(fc)
		if (schema != "" && schema != "pg_catalog") || !IsAdvisoryFunc(name) {
			return false, nil
		}
		name = strings.ToLower(name)
		c := AdvisoryCall{Func: name, Column: rt.Name}
		if c.Column == "" {
			c.Column = name
		}
		arity := false
		for _, n := range advisoryFuncs[name] {
			arity = arity || n == len(fc.Args)
		}
		if !arity || fc.AggStar || fc.AggDistinct || fc.Over != nil || len(fc.AggOrder) > 0 {
			return true, errorf(CodeUndefinedFunction, int(fc.Location), "function %s with %d arguments does not exist", name, len(fc.Args))
		}
		for _, a := range fc.Args {
			arg, ok := advisoryArg(a)
			if !ok {
				return true, unsupported("advisory lock keys that are not constants or parameters", "Pass the key as a number or a parameter: SELECT pg_advisory_lock($1).")
			}
			if arg.Param > st.Params {
				st.Params = arg.Param
			}
			c.Args = append(c.Args, arg)
		}
		calls = append(calls, c)
	}
	st.Kind, st.Advisory, st.Tag = KindAdvisory, calls, "SELECT"
	return true, nil
}

// advisoryArg reads a constant integer or a parameter, either maybe cast.
func advisoryArg(n *pg_query.Node) (AdvisoryArg, bool) {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	if p := n.GetParamRef(); p != nil {
		return AdvisoryArg{Param: int(p.Number)}, p.Number > 0
	}
	neg := false
	if e := n.GetAExpr(); e != nil && e.Lexpr == nil && len(e.Name) == 1 && e.Name[0].GetString_().GetSval() == "-" {
		n, neg = e.Rexpr, true
	}
	k := n.GetAConst()
	if k == nil {
		return AdvisoryArg{}, false
	}
	var v int64
	switch x := k.Val.(type) {
	case *pg_query.A_Const_Ival:
		v = int64(x.Ival.Ival)
	case *pg_query.A_Const_Fval:
		i, err := strconv.ParseInt(x.Fval.Fval, 10, 64)
		if err != nil {
			return AdvisoryArg{}, false
		}
		v = i
	default:
		return AdvisoryArg{}, false
	}
	if neg {
		v = -v
	}
	return AdvisoryArg{Value: v}, true
}
