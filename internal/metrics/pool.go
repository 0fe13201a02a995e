package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolSource is what the pool metrics read. The PostgreSQL store
// satisfies it.
type PoolSource interface {
	// Stat returns a snapshot of the connection pool's statistics.
	Stat() *pgxpool.Stat
}

// poolMetric is one figure of pgxpool.Stat.
type poolMetric struct {
	desc      *prometheus.Desc
	valueType prometheus.ValueType
	value     func(*pgxpool.Stat) float64
}

// poolCollector reports the pool's statistics as they are at each scrape:
// pgxpool keeps them, so nothing is counted on the request path.
type poolCollector struct {
	src     PoolSource
	metrics []poolMetric
}

func newPoolCollector(src PoolSource) *poolCollector {
	gauge := func(name, help string, v func(*pgxpool.Stat) int32) poolMetric {
		return poolMetric{prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue,
			func(s *pgxpool.Stat) float64 { return float64(v(s)) }}
	}
	counter := func(name, help string, v func(*pgxpool.Stat) float64) poolMetric {
		return poolMetric{prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue, v}
	}
	return &poolCollector{src: src, metrics: []poolMetric{
		gauge("veil_db_pool_acquired_connections", "Connections in use.",
			(*pgxpool.Stat).AcquiredConns),
		gauge("veil_db_pool_idle_connections", "Connections open and idle.",
			(*pgxpool.Stat).IdleConns),
		gauge("veil_db_pool_constructing_connections", "Connections being opened.",
			(*pgxpool.Stat).ConstructingConns),
		gauge("veil_db_pool_total_connections", "Connections open, in use or idle, or being opened.",
			(*pgxpool.Stat).TotalConns),
		gauge("veil_db_pool_max_connections", "The most connections the pool opens.",
			(*pgxpool.Stat).MaxConns),
		counter("veil_db_pool_acquires_total", "Connections handed out.",
			func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
		counter("veil_db_pool_acquire_duration_seconds_total", "Time spent getting connections.",
			func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
		counter("veil_db_pool_empty_acquires_total",
			"Connections asked for while none was idle, so the caller waited.",
			func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
		counter("veil_db_pool_empty_acquire_wait_seconds_total",
			"Time spent waiting for a connection while none was idle.",
			func(s *pgxpool.Stat) float64 { return s.EmptyAcquireWaitTime().Seconds() }),
		counter("veil_db_pool_canceled_acquires_total",
			"Waits for a connection given up because the request's context ended.",
			func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }),
	}}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, pm := range c.metrics {
		ch <- pm.desc
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stat()
	for _, pm := range c.metrics {
		ch <- prometheus.MustNewConstMetric(pm.desc, pm.valueType, pm.value(st))
	}
}
