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
	return &collector{
		descs: descs{store: newStoreDescs(constLabels)},
		collect: func(d *descs, ch chan<- prometheus.Metric) {
			d.store.collect(ch, s.Stats(), name)
		},
	}
}

// NewManagerCollector returns a Collector of the figures of m, read on
// every scrape: the mini_state_* metrics, and the mini_store_* metrics of
// its journal with the label journal="name". constLabels, which may be
// nil, are added to every metric.
func NewManagerCollector(m ManagerStats, name string, constLabels prometheus.Labels) prometheus.Collector {
	return &collector{
		descs: descs{store: newStoreDescs(constLabels), state: newStateDescs(constLabels)},
		collect: func(d *descs, ch chan<- prometheus.Metric) {
			st := m.Stats()
			d.store.collect(ch, st.Journal, name)
			d.state.collect(ch, st)
		},
	}
}

// NewQueueCollector returns a Collector of the figures of q, read on every
// scrape: the mini_queue_* metrics (per consumer with the label consumer),
// and the mini_store_* metrics of its two journals with the labels
// journal="messages" and journal="consumers". constLabels, which may be
// nil, are added to every metric: give each queue its own (queue="orders",
// say) when a registry holds more than one.
func NewQueueCollector(q QueueStats, constLabels prometheus.Labels) prometheus.Collector {
	return &collector{
		descs: descs{store: newStoreDescs(constLabels), queue: newQueueDescs(constLabels)},
		collect: func(d *descs, ch chan<- prometheus.Metric) {
			st := q.Stats()
			d.store.collect(ch, st.Journal, "messages")
			d.store.collect(ch, st.ConsumerJournal, "consumers")
			d.queue.collect(ch, st)
		},
	}
}

type descs struct {
	store *storeDescs
	state *stateDescs
	queue *queueDescs
	raft  *raftDescs
}

// collector reads the figures on every Collect.
type collector struct {
	descs   descs
	collect func(*descs, chan<- prometheus.Metric)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs.all() {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) { c.collect(&c.descs, ch) }

func (d *descs) all() []*prometheus.Desc {
	var out []*prometheus.Desc
	if d.store != nil {
		out = append(out, d.store.all()...)
	}
	if d.state != nil {
		out = append(out, d.state.all()...)
	}
	if d.queue != nil {
		out = append(out, d.queue.all()...)
	}
	if d.raft != nil {
		out = append(out, d.raft.all()...)
	}
	return out
}

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
