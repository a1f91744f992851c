package pgwire

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/allsource/allsource/analytics"
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
	switch name {
	case "funnel", "retention", "time_series", "anomalies":
	default:
		return nil, false, nil
	}
	if args == nil {
		return nil, true, nil // a probe: the name is ours
	}
	if len(args) != 1 {
		return nil, true, fmt.Errorf("takes one argument, the JSON question, e.g. %s('{...}')", name)
	}
	decode := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader([]byte(args[0])))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("invalid JSON argument: %v", err)
		}
		return nil
	}
	wh := s.opts.Warehouse
	f := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	str := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	switch name {
	case "funnel":
		var spec analytics.FunnelSpec
		if err := decode(&spec); err != nil {
			return nil, true, err
		}
		res, err := analytics.RunFunnel(ctx, wh, spec)
		if err != nil {
			return nil, true, err
		}
		t := &pgsql.TableResult{
			Columns: []string{"breakdown", "step", "name", "entities", "conversion_from_start", "conversion_from_previous", "median_seconds_to_convert", "avg_seconds_to_convert"},
			Types:   []string{"VARCHAR", "INTEGER", "VARCHAR", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE"},
		}
		add := func(bd any, steps []analytics.FunnelStep) {
			for i, st := range steps {
				name := ""
				if i < len(spec.Steps) {
					name = spec.Steps[i].EventType
				}
				t.Rows = append(t.Rows, []any{bd, int64(st.Step), name, st.Entities, st.ConversionFromStart,
					st.ConversionFromPrevious, f(st.MedianSecondsToConvert), f(st.AvgSecondsToConvert)})
			}
		}
		if spec.Breakdown != "" {
			for _, b := range res.Breakdown {
				add(str(b.Value), b.Steps)
			}
		} else {
			add(nil, res.Steps)
		}
		return t, true, nil
	case "retention":
		var spec analytics.RetentionSpec
		if err := decode(&spec); err != nil {
			return nil, true, err
		}
		res, err := analytics.RunRetention(ctx, wh, spec)
		if err != nil {
			return nil, true, err
		}
		t := &pgsql.TableResult{
			Columns: []string{"breakdown", "cohort", "size", "period", "retained", "share"},
			Types:   []string{"VARCHAR", "DATE", "BIGINT", "INTEGER", "BIGINT", "DOUBLE"},
		}
		add := func(bd any, cs []analytics.Cohort) {
			for _, c := range cs {
				for k, n := range c.Retained {
					share := 0.0
					if k < len(c.Share) {
						share = c.Share[k]
					}
					t.Rows = append(t.Rows, []any{bd, c.Cohort, c.Size, int64(k), n, share})
				}
			}
		}
		if spec.Breakdown != "" {
			for _, b := range res.Breakdown {
				add(str(b.Value), b.Cohorts)
			}
		} else {
			add(nil, res.Cohorts)
		}
		return t, true, nil
	case "time_series":
		var spec analytics.SeriesSpec
		if err := decode(&spec); err != nil {
			return nil, true, err
		}
		res, err := analytics.RunSeries(ctx, wh, spec)
		if err != nil {
			return nil, true, err
		}
		t := &pgsql.TableResult{
			Columns: []string{"time", "group", "value", "moving_average", "change", "change_percent", "rate"},
			Types:   []string{"TIMESTAMPTZ", "VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE"},
		}
		for _, g := range res.Series {
			for _, p := range g.Points {
				t.Rows = append(t.Rows, []any{p.Time, str(g.Group), f(p.Value), f(p.MovingAverage), f(p.Change), f(p.ChangePercent), f(p.Rate)})
			}
		}
		return t, true, nil
	default: // anomalies
		var spec analytics.AnomalySpec
		if err := decode(&spec); err != nil {
			return nil, true, err
		}
		res, err := analytics.RunAnomalies(ctx, wh, spec)
		if err != nil {
			return nil, true, err
		}
		t := &pgsql.TableResult{
			Columns: []string{"time", "group", "value", "expected", "score", "direction"},
			Types:   []string{"TIMESTAMPTZ", "VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "VARCHAR"},
		}
		for _, a := range res {
			t.Rows = append(t.Rows, []any{a.Time, str(a.Group), a.Value, a.Expected, f(a.Score), a.Direction})
		}
		return t, true, nil
	}
}
