// SPDX-License-Identifier: MIT OR Apache-2.0

package promstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mini-go/mini/miniqueue"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

// StoreStats is what a ministore.Store offers: *ministore.Store[R] for any R.
type StoreStats interface{ Stats() ministore.Stats }

// ManagerStats is what a ministate.Manager offers.
type ManagerStats interface{ Stats() ministate.Stats }

// QueueStats is what a miniqueue.Queue offers.
type QueueStats interface{ Stats() miniqueue.Stats }

// NewStoreCollector returns a Collector of the figures of s, read on every
// scrape: the mini_store_* metrics with the label journal="name".
// constLabels, which may be nil, are added to every metric.
func NewStoreCollector(s StoreStats, name string, constLabels prometheus.Labels) prometheus.Collector {
	ds := &descs{constLabels: constLabels}
	store := newStoreDescs(ds)
	return &collector{ds.all, func(ch chan<- prometheus.Metric) { store.collect(ch, s.Stats(), name) }}
}

// NewManagerCollector returns a Collector of the figures of m, read on
// every scrape: the mini_state_* metrics, and the mini_store_* metrics of
// its journal with the label journal="name". constLabels, which may be
// nil, are added to every metric.
func NewManagerCollector(m ManagerStats, name string, constLabels prometheus.Labels) prometheus.Collector {
	ds := &descs{constLabels: constLabels}
	store, state := newStoreDescs(ds), newStateDescs(ds)
	return &collector{ds.all, func(ch chan<- prometheus.Metric) {
		st := m.Stats()
		store.collect(ch, st.Journal, name)
		state.collect(ch, st)
	}}
}

// NewQueueCollector returns a Collector of the figures of q, read on every
// scrape: the mini_queue_* metrics (per consumer with the label consumer),
// and the mini_store_* metrics of its two journals with the labels
// journal="messages" and journal="consumers". constLabels, which may be
// nil, are added to every metric: give each queue its own (queue="orders",
// say) when a registry holds more than one.
func NewQueueCollector(q QueueStats, constLabels prometheus.Labels) prometheus.Collector {
	ds := &descs{constLabels: constLabels}
	store, queue := newStoreDescs(ds), newQueueDescs(ds)
	return &collector{ds.all, func(ch chan<- prometheus.Metric) {
		st := q.Stats()
		store.collect(ch, st.Journal, "messages")
		store.collect(ch, st.ConsumerJournal, "consumers")
		queue.collect(ch, st)
	}}
}

// descs makes the descriptions of a collector's metrics, and keeps them
// for Describe.
type descs struct {
	constLabels prometheus.Labels
	all         []*prometheus.Desc
}

func (d *descs) new(name, help string, labels ...string) *prometheus.Desc {
	desc := prometheus.NewDesc(name, help, labels, d.constLabels)
	d.all = append(d.all, desc)
	return desc
}

// collector reads the figures on every Collect.
type collector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// histogram converts h to a Prometheus histogram in seconds: cumulative
// counts at ministore.LatencyBuckets' bounds, the last bucket being +Inf.
func histogram(desc *prometheus.Desc, h ministore.Histogram, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(ministore.LatencyBuckets))
	var cum uint64
	for i, bound := range ministore.LatencyBuckets {
		cum += h.Counts[i]
		buckets[bound.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(desc, h.Count, h.Sum.Seconds(), buckets, labels...)
}

func counter(desc *prometheus.Desc, v uint64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
}

func gauge(desc *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}
