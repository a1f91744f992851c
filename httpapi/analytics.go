package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/analytics"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/warehouse"
)

// AnalyticsOptions configures the analytics endpoints.
type AnalyticsOptions struct {
	QueryTimeout time.Duration // default 5 minutes
}

// RegisterAnalytics adds POST /v1/analytics/funnel, /retention,
// /timeseries, /anomalies, /stats, /correlation, /forecast,
// /retention_conditions and /pivot: each takes its question as a strict
// JSON body of its analytics spec type (FunnelSpec, RetentionSpec …), runs
// it under the query timeout and answers the result as JSON.
func RegisterAnalytics(r gin.IRouter, wh *warehouse.Warehouse, o AnalyticsOptions) {
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 5 * time.Minute
	}
	post(r, wh, o, "/v1/analytics/funnel", analytics.RunFunnel, funnelJSON)
	post(r, wh, o, "/v1/analytics/timeseries", analytics.RunSeries, func(_ analytics.SeriesSpec, res analytics.SeriesResult) any { return res })
	postNamed(r, wh, o, "/v1/analytics/anomalies", analytics.RunAnomalies, "anomalies")
	postNamed(r, wh, o, "/v1/analytics/stats", analytics.RunStats, "series")
	postNamed(r, wh, o, "/v1/analytics/correlation", analytics.RunCorrelation, "lags")
	postNamed(r, wh, o, "/v1/analytics/forecast", analytics.RunForecast, "series")
	postNamed(r, wh, o, "/v1/analytics/retention_conditions", analytics.RunConditions, "counts")
	post(r, wh, o, "/v1/analytics/pivot", analytics.RunPivot, func(_ analytics.PivotSpec, res *analytics.PivotOut) any { return res })
	post(r, wh, o, "/v1/analytics/retention", analytics.RunRetention, func(_ analytics.RetentionSpec, res analytics.RetentionResult) any { return retentionJSON(res) })
}

// post serves one question: the JSON body decoded strictly into its spec,
// run under the query timeout, the answer shaped by out.
func post[S, R any](r gin.IRouter, wh *warehouse.Warehouse, o AnalyticsOptions, path string,
	run func(context.Context, *warehouse.Warehouse, S) (R, error), out func(S, R) any) {
	r.POST(path, func(c *gin.Context) {
		var spec S
		if !decodeSpec(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		res, err := run(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.PureJSON(http.StatusOK, withWarnings(out(spec, res), analytics.Warnings(ctx, wh, spec)))
	})
}

// postNamed serves a question answered as {"name": result}.
func postNamed[S, R any](r gin.IRouter, wh *warehouse.Warehouse, o AnalyticsOptions, path string,
	run func(context.Context, *warehouse.Warehouse, S) (R, error), name string) {
	post(r, wh, o, path, run, func(_ S, res R) any { return gin.H{name: res} })
}

type funnelStepJSON struct {
	Step                   int      `json:"step"`
	Name                   string   `json:"name"`
	Entities               int64    `json:"entities"`
	ConversionFromStart    float64  `json:"conversion_from_start"`
	ConversionFromPrevious float64  `json:"conversion_from_previous"`
	MedianSecondsToConvert *float64 `json:"median_seconds_to_convert"`
	AvgSecondsToConvert    *float64 `json:"avg_seconds_to_convert"`
}

func funnelSteps(spec analytics.FunnelSpec, steps []analytics.FunnelStep) []funnelStepJSON {
	out := make([]funnelStepJSON, len(steps))
	for i, s := range steps {
		name := ""
		if i < len(spec.Steps) {
			name = spec.Steps[i].EventType
		}
		out[i] = funnelStepJSON{Step: s.Step, Name: name, Entities: s.Entities, ConversionFromStart: s.ConversionFromStart,
			ConversionFromPrevious: s.ConversionFromPrevious, MedianSecondsToConvert: s.MedianSecondsToConvert,
			AvgSecondsToConvert: s.AvgSecondsToConvert}
	}
	return out
}

func funnelJSON(spec analytics.FunnelSpec, r analytics.FunnelResult) any {
	out := gin.H{"steps": funnelSteps(spec, r.Steps)}
	if len(r.Breakdown) > 0 {
		var bd []gin.H
		for _, b := range r.Breakdown {
			bd = append(bd, gin.H{"value": b.Value, "steps": funnelSteps(spec, b.Steps)})
		}
		out["breakdown"] = bd
	}
	return out
}

type cohortJSON struct {
	Cohort   string    `json:"cohort"`
	Size     int64     `json:"size"`
	Retained []int64   `json:"retained"`
	Share    []float64 `json:"share"`
}

func cohorts(cs []analytics.Cohort) []cohortJSON {
	out := make([]cohortJSON, len(cs))
	for i, c := range cs {
		out[i] = cohortJSON{Cohort: c.Cohort, Size: c.Size, Retained: c.Retained, Share: c.Share}
	}
	return out
}

func retentionJSON(r analytics.RetentionResult) gin.H {
	out := gin.H{"cohorts": cohorts(r.Cohorts), "rows": r.Rows()}
	if len(r.Breakdown) > 0 {
		var bd []gin.H
		for _, b := range r.Breakdown {
			bd = append(bd, gin.H{"value": b.Value, "cohorts": cohorts(b.Cohorts)})
		}
		out["breakdown"] = bd
	}
	return out
}

// decodeSpec decodes a question strictly (analytics.DecodeQuestion:
// relative times too); on failure it has answered.
func decodeSpec(c *gin.Context, spec any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	if err == nil {
		err = analytics.DecodeQuestion(body, spec, time.Now())
	} else {
		err = allsource.Errorf(allsource.CodeInvalid, "invalid request body: %v", err)
	}
	if err != nil {
		httpx.WriteError(c, err)
		return false
	}
	return true
}

// withWarnings adds "warnings" to an answer object when there are any.
func withWarnings(answer any, warnings []string) any {
	if len(warnings) == 0 {
		return answer
	}
	h, ok := answer.(gin.H)
	if !ok {
		b, err := json.Marshal(answer)
		if err != nil || json.Unmarshal(b, &h) != nil {
			return answer
		}
	}
	h["warnings"] = warnings
	return h
}
