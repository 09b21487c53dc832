// SPDX-License-Identifier: MIT OR Apache-2.0

package promstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mini-go/mini/miniqueue"
)

// queueDescs describe the mini_queue_* metrics.
type queueDescs struct {
	messages, firstSeq, lastSeq, bytes, maxBytes, deadLetters *prometheus.Desc
	// per consumer
	lag, inFlight, delivered, redelivered, acked, nacked *prometheus.Desc
	expired, deadLettered, discarded                     *prometheus.Desc
}

func newQueueDescs(ds *descs) *queueDescs {
	d := func(name, help string) *prometheus.Desc {
		return ds.new("mini_queue_"+name, help)
	}
	c := func(name, help string) *prometheus.Desc {
		return ds.new("mini_queue_consumer_"+name, help, "consumer")
	}
	return &queueDescs{
		messages:     d("messages", "Messages not yet acknowledged by every consumer (Queue.Len)."),
		firstSeq:     d("first_seq", "Sequence number of the oldest message on disk; 0 if none."),
		lastSeq:      d("last_seq", "Sequence number of the newest message; 0 if none was pushed."),
		bytes:        d("bytes", "Bytes counted against MaxBytes (0 without MaxBytes)."),
		maxBytes:     d("max_bytes", "Options.MaxBytes (0: no limit)."),
		deadLetters:  d("dead_letters", "Messages in the dead-letter queue."),
		lag:          c("lag", "Messages the consumer has not acknowledged, in flight ones included."),
		inFlight:     c("in_flight", "Messages received and neither acknowledged nor released."),
		delivered:    c("delivered_total", "Deliveries since Open."),
		redelivered:  c("redelivered_total", "Deliveries after the first of a message since Open."),
		acked:        c("acked_total", "Acknowledgements since Open."),
		nacked:       c("nacked_total", "Negative acknowledgements since Open."),
		expired:      c("expired_total", "Visibility timeouts that ran out since Open."),
		deadLettered: c("dead_lettered_total", "Messages moved to the dead-letter queue since Open."),
		discarded:    c("discarded_total", "Messages older than MaxAge dropped since Open."),
	}
}

func (d *queueDescs) collect(ch chan<- prometheus.Metric, st miniqueue.Stats) {
	ch <- gauge(d.messages, float64(st.Len))
	ch <- gauge(d.firstSeq, float64(st.FirstSeq))
	ch <- gauge(d.lastSeq, float64(st.LastSeq))
	ch <- gauge(d.bytes, float64(st.Bytes))
	ch <- gauge(d.maxBytes, float64(st.MaxBytes))
	ch <- gauge(d.deadLetters, float64(st.DeadLetters))
	for _, c := range st.Consumers {
		ch <- gauge(d.lag, float64(c.Lag), c.Name)
		ch <- gauge(d.inFlight, float64(c.InFlight), c.Name)
		ch <- counter(d.delivered, c.Delivered, c.Name)
		ch <- counter(d.redelivered, c.Redelivered, c.Name)
		ch <- counter(d.acked, c.Acked, c.Name)
		ch <- counter(d.nacked, c.Nacked, c.Name)
		ch <- counter(d.expired, c.Expired, c.Name)
		ch <- counter(d.deadLettered, c.DeadLettered, c.Name)
		ch <- counter(d.discarded, c.Discarded, c.Name)
	}
}
