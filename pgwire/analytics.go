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
