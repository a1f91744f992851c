package pgwire

import (
	"context"
	"fmt"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/analytics"
	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/pgwire/pgsql"
)

// TableFunction implements pgsql.TableFunctionProvider: funnel, retention,
// time_series and anomalies in FROM, each taking the JSON body of the
// matching HTTP endpoint as its one text argument.
func (ss *session) TableFunction(name string, args []string) (*pgsql.TableResult, bool, error) {
	if ss.tables == nil {
		return nil, false, nil
	}
	return ss.tables(name, args)
}

// TableShape implements pgsql.TableFunctionProvider: the columns of a
// call whose argument is a parameter not yet bound.
func (ss *session) TableShape(name string, nargs int) (*pgsql.TableResult, bool, error) {
	if ss.tables == nil {
		return nil, false, nil
	}
	// The probe marks the statement as computed at each execution.
	if _, handled, _ := ss.tables(name, nil); !handled {
		return nil, false, nil
	}
	if nargs != 1 {
		return nil, true, fmt.Errorf("takes one argument, the JSON question, e.g. %s('{...}')", name)
	}
	sql, err := analytics.EmptyTable(name).ValuesSQL()
	if err != nil {
		return nil, true, err
	}
	return &pgsql.TableResult{SQL: sql}, true, nil
}

// TenantTables implements pgsql.TenantTables: the session's tenant's
// projections, which its catalog lists in schema projections.
func (ss *session) TenantTables() []pgsql.Table {
	if ss.own == nil {
		return nil
	}
	return ss.own()
}

// ParamText implements pgsql.ParamBinder: parameter n's bound value as
// text, while a statement whose table functions take parameters is
// rewritten for execution.
func (ss *session) ParamText(n int) (string, bool) {
	if ss.bound == nil || n < 1 || n > len(ss.bound) {
		return "", false
	}
	switch v := ss.bound[n-1].Value.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case []byte:
		return string(v), true
	default:
		return fmt.Sprint(v), true
	}
}

// analyticsTable computes one analytics table function.
func (s *Server) analyticsTable(ctx context.Context, name string, args []string) (*pgsql.TableResult, bool, error) {
	if !analytics.IsTableFunction(name) {
		return nil, false, nil
	}
	if args == nil {
		return nil, true, nil // a probe: the name is ours
	}
	if len(args) != 1 {
		return nil, true, fmt.Errorf("takes one argument, the JSON question, e.g. %s('{...}')", name)
	}
	tenant := s.opts.Tenant
	if p, ok := allsource.PrincipalFrom(ctx); ok {
		tenant = sessionTenant(p, s.opts.Tenant)
	}
	if err := s.opts.Gate.Authorize(ctx, authz.ActionAnalytics, tenant); err != nil {
		return nil, true, &pgsql.Error{Code: "42501", Message: "permission denied: " + errorMessage(err)}
	}
	t, err := analytics.RunTable(ctx, s.opts.Warehouse, name, args[0])
	if err != nil {
		return nil, true, err
	}
	sql, err := t.ValuesSQL()
	if err != nil {
		return nil, true, err
	}
	return &pgsql.TableResult{SQL: sql}, true, nil
}
