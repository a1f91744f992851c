package analytics

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/warehouse"
)

// HTTPOptions configures the analytics endpoints.
type HTTPOptions struct {
	QueryTimeout time.Duration // default 5 minutes
}

// RegisterRoutes adds POST /v1/analytics/funnel, /retention, /timeseries,
// /anomalies, /stats, /correlation, /forecast, /retention_conditions and
// /pivot.
func RegisterRoutes(r gin.IRouter, wh *warehouse.Warehouse, o HTTPOptions) {
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 5 * time.Minute
	}
	r.POST("/v1/analytics/funnel", func(c *gin.Context) {
		var spec FunnelSpec
		if !decode(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		res, err := RunFunnel(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, funnelJSON(spec, res))
	})
	r.POST("/v1/analytics/timeseries", func(c *gin.Context) {
		var spec SeriesSpec
		if !decode(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		res, err := RunSeries(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	})
	r.POST("/v1/analytics/anomalies", func(c *gin.Context) {
		var spec AnomalySpec
		if !decode(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		res, err := RunAnomalies(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"anomalies": res})
	})
	r.POST("/v1/analytics/stats", func(c *gin.Context) {
		var spec StatsSpec
		if !decode(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		res, err := RunStats(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"series": res})
	})
	r.POST("/v1/analytics/correlation", func(c *gin.Context) {
		var spec CorrelationSpec
		if !decode(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		res, err := RunCorrelation(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"lags": res})
	})
	r.POST("/v1/analytics/forecast", func(c *gin.Context) {
		var spec ForecastSpec
		if !decode(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		res, err := RunForecast(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"series": res})
	})
	r.POST("/v1/analytics/retention_conditions", func(c *gin.Context) {
		var spec ConditionsSpec
		if !decode(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		counts, err := RunConditions(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"counts": counts})
	})
	r.POST("/v1/analytics/pivot", func(c *gin.Context) {
		var spec PivotSpec
		if !decode(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		res, err := RunPivot(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	})
	r.POST("/v1/analytics/retention", func(c *gin.Context) {
		var spec RetentionSpec
		if !decode(c, &spec) {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
		defer cancel()
		res, err := RunRetention(ctx, wh, spec)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, retentionJSON(res))
	})
}

// decode reads a JSON body strictly, answering 400 on failure.
func decode(c *gin.Context, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeInvalid, "invalid request body: %v", err))
		return false
	}
	return true
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

func funnelSteps(spec FunnelSpec, steps []FunnelStep) []funnelStepJSON {
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

func funnelJSON(spec FunnelSpec, r FunnelResult) gin.H {
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

func cohorts(cs []Cohort) []cohortJSON {
	out := make([]cohortJSON, len(cs))
	for i, c := range cs {
		out[i] = cohortJSON{Cohort: c.Cohort, Size: c.Size, Retained: c.Retained, Share: c.Share}
	}
	return out
}

func retentionJSON(r RetentionResult) gin.H {
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
