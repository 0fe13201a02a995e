package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veil-auth/veil/internal/keys"
)

// KeySource is what the key metrics read: the Set in force and the clock
// its keys' states are told by. *keys.Manager satisfies it.
type KeySource interface {
	// Current returns the Set in force, or nil before keys are loaded.
	Current() *keys.Set
	// Now is the time by the clock keys are activated and retired by.
	Now() time.Time
}

// keyCollector describes the signing keys of the Set in force, as this
// process holds it, at each scrape. Nothing is kept between scrapes, so a
// rotation shows at the next scrape after the Set is replaced.
type keyCollector struct {
	src   KeySource
	count *prometheus.Desc
	age   *prometheus.Desc
}

func newKeyCollector(src KeySource) *keyCollector {
	return &keyCollector{
		src: src,
		count: prometheus.NewDesc("veil_signing_keys",
			"Signing keys held, by algorithm and state (next, active, retired).",
			[]string{"alg", "state"}, nil),
		age: prometheus.NewDesc("veil_signing_key_age_seconds",
			"Time since the active signing key of each algorithm started signing.",
			[]string{"alg", "kid"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *keyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.age
}

// Collect implements prometheus.Collector. Every state of every algorithm
// held is reported, zeros included, so that an alert can watch for an
// algorithm without an active key.
func (c *keyCollector) Collect(ch chan<- prometheus.Metric) {
	set := c.src.Current()
	if set == nil {
		return
	}
	now := c.src.Now()

	type algState struct{ alg, state string }
	counts := make(map[algState]int)
	for _, k := range set.SigningKeys() {
		state := k.State(now)
		counts[algState{string(k.Algorithm), state}]++
		if state == keys.StateActive {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue,
				now.Sub(k.ActivatedAt).Seconds(), string(k.Algorithm), k.ID)
		}
	}
	for _, alg := range set.Algorithms() {
		for _, state := range []string{keys.StateNext, keys.StateActive, keys.StateRetired} {
			n := counts[algState{string(alg), state}]
			ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(n), string(alg), state)
		}
	}
}
