// SPDX-License-Identifier: MIT OR Apache-2.0

package promstats_test

import (
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mini-go/mini/metrics/promstats"
	"github.com/mini-go/mini/miniqueue"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

type account struct {
	Balance int `json:"balance"`
}

type deposit struct {
	Amount int `json:"amount"`
}

func (d deposit) Apply(s *account) { s.Balance += d.Amount }

// scrape gets the registry's page over HTTP, as Prometheus does, and
// parses it with the text exposition parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the page does not parse: %v", err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include want, or fails.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no %s in the scrape", name)
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
		t.Fatalf("%s has type %v", name, f.GetType())
	}
	t.Fatalf("no %s%v in the scrape", name, want)
	return 0
}

// A running Manager, scraped through an HTTP handler: the page parses and
// the values move as the program works.
func TestScrapeManager(t *testing.T) {
	dir := t.TempDir()
	m, err := ministate.Open[account, deposit](dir, "bank.log", &ministate.Options{MaxSegmentBytes: 2 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promstats.NewManagerCollector(m, "bank", prometheus.Labels{"app": "test"}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	bank := map[string]string{"journal": "bank", "app": "test"}
	before := scrape(t, srv.URL)
	if v := value(t, before, "mini_store_appends_total", bank); v != 0 {
		t.Fatalf("appends before any Apply: %v", v)
	}
	if v := value(t, before, "mini_state_recovery_seconds", nil); v <= 0 {
		t.Fatalf("recovery_seconds %v", v)
	}
	for i := range 100 {
		if _, err := m.Apply(deposit{i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, srv.URL)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mini_store_appends_total", bank, 100},
		{"mini_state_applies_total", nil, 100},
		{"mini_state_mutations_total", nil, 100},
		{"mini_state_sequence", nil, 100},
		{"mini_state_snapshot_seconds", nil, 1},
		{"mini_state_compaction_seconds", nil, 1},
	} {
		if got := value(t, after, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Under ministate the journal is fsync'd by Sync, at most once per
	// Apply, once more by each rotation, and once by each compaction (its
	// TruncateFront writes the journal's front bound).
	r := value(t, after, "mini_store_rotations_total", bank)
	if r == 0 {
		t.Errorf("no rotation with 2 KiB segments")
	}
	c := value(t, after, "mini_state_compaction_seconds", nil)
	if f := value(t, after, "mini_store_fsync_seconds", bank); f == 0 || f > 100+r+c {
		t.Errorf("%v fsyncs for 100 applies, %v rotations and %v compactions", f, r, c)
	}
	if b := value(t, after, "mini_store_append_bytes_total", bank); b <= value(t, before, "mini_store_append_bytes_total", bank) {
		t.Errorf("append_bytes_total did not move: %v", b)
	}
	h := after["mini_store_fsync_seconds"].GetMetric()[0].GetHistogram()
	finite := 0
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() < math.Inf(1) {
			finite++
		}
	}
	if h.GetSampleSum() <= 0 || finite != len(ministore.LatencyBuckets) {
		t.Errorf("fsync histogram: %v", h)
	}
}

// The store collector, read with testutil; the registry's lint finds no
// problem with the metrics.
func TestStoreCollector(t *testing.T) {
	s, err := ministore.Open[string](filepath.Join(t.TempDir(), "j.log"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := promstats.NewStoreCollector(s, "j", nil)
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	for range 3 {
		if _, err := s.Append("x"); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP mini_store_appends_total Records appended to the journal since Open.
# TYPE mini_store_appends_total counter
mini_store_appends_total{journal="j"} 3
# HELP mini_store_batches_total Group commits (writes carrying one or more records) since Open.
# TYPE mini_store_batches_total counter
mini_store_batches_total{journal="j"} 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "mini_store_appends_total", "mini_store_batches_total"); err != nil {
		t.Fatal(err)
	}
}

// A queue's collector: per-consumer series and both journals.
func TestQueueCollector(t *testing.T) {
	q, err := miniqueue.Open[string](t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promstats.NewQueueCollector(q, prometheus.Labels{"queue": "orders"}))
	for _, v := range []string{"a", "b"} {
		if _, err := q.Push(v); err != nil {
			t.Fatal(err)
		}
	}
	c := q.Consumer("billing")
	msg, err := c.Receive(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Ack(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	fams := scrape(t, srv.URL)
	billing := map[string]string{"consumer": "billing", "queue": "orders"}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mini_queue_last_seq", nil, 2},
		{"mini_queue_consumer_delivered_total", billing, 1},
		{"mini_queue_consumer_acked_total", billing, 1},
		{"mini_queue_consumer_lag", billing, 1},
		{"mini_store_appends_total", map[string]string{"journal": "messages"}, 2},
	} {
		if got := value(t, fams, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if got := value(t, fams, "mini_store_appends_total", map[string]string{"journal": "consumers"}); got == 0 {
		t.Errorf("consumers journal: no appends after a delivery and an ack")
	}
}
