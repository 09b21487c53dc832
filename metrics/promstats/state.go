// SPDX-License-Identifier: MIT OR Apache-2.0

package promstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mini-go/mini/ministate"
)

// stateDescs describe the mini_state_* metrics.
type stateDescs struct {
	sequence, applies, mutations, snapshot, compaction, replayed, recovery *prometheus.Desc
}

func newStateDescs(ds *descs) *stateDescs {
	d := func(name, help string) *prometheus.Desc {
		return ds.new("mini_state_"+name, help)
	}
	return &stateDescs{
		sequence:   d("sequence", "Sequence number of the last record applied to the state."),
		applies:    d("applies_total", "Records applied since Open (an ApplyBatch is one record)."),
		mutations:  d("mutations_total", "Mutations applied since Open."),
		snapshot:   d("snapshot_seconds", "Duration of the snapshots written since Open."),
		compaction: d("compaction_seconds", "Duration of the journal compactions since Open."),
		replayed:   d("replayed_records", "Journal records Open replayed after the snapshot."),
		recovery:   d("recovery_seconds", "How long Open took: journal, snapshot and replay."),
	}
}

func (d *stateDescs) collect(ch chan<- prometheus.Metric, st ministate.Stats) {
	ch <- gauge(d.sequence, float64(st.Sequence))
	ch <- counter(d.applies, st.Applies)
	ch <- counter(d.mutations, st.Mutations)
	ch <- histogram(d.snapshot, st.Snapshots)
	ch <- histogram(d.compaction, st.Compactions)
	ch <- gauge(d.replayed, float64(st.Replayed))
	ch <- gauge(d.recovery, st.Recovery.Seconds())
}
