// Package metricstest scrapes a Veil metrics endpoint over HTTP and reads
// samples from the exposition, for tests.
package metricstest

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape gets url with token as bearer credential and parses the text
// exposition format. It fails t unless the answer is 200 and parses.
func Scrape(t testing.TB, url, token string) Families {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition of %s: %v", url, err)
	}
	return fams
}

// Value returns the value of the sample of family name whose labels are
// exactly labels (nil for none), and whether there is one. For a
// histogram the value is its count of observations.
func (f Families) Value(name string, labels map[string]string) (float64, bool) {
	m := f.Metric(name, labels)
	switch {
	case m == nil:
		return 0, false
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount()), true
	}
	return 0, false
}

// Metric returns the sample of family name whose labels are exactly
// labels, or nil.
func (f Families) Metric(name string, labels map[string]string) *dto.Metric {
	fam, ok := f[name]
	if !ok {
		return nil
	}
	for _, m := range fam.GetMetric() {
		if matches(m.GetLabel(), labels) {
			return m
		}
	}
	return nil
}

func matches(pairs []*dto.LabelPair, labels map[string]string) bool {
	if len(pairs) != len(labels) {
		return false
	}
	for _, p := range pairs {
		if v, ok := labels[p.GetName()]; !ok || v != p.GetValue() {
			return false
		}
	}
	return true
}
