// SPDX-License-Identifier: MIT OR Apache-2.0

package promstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mini-go/mini/ministore"
)

// storeDescs describe the mini_store_* metrics, labeled by journal.
type storeDescs struct {
	appends, appendBytes, batches, fsync, rotations *prometheus.Desc
	segments, bytes, preallocSteps, tornRepairs     *prometheus.Desc
	recovery                                        *prometheus.Desc
}

func newStoreDescs(ds *descs) *storeDescs {
	d := func(name, help string) *prometheus.Desc {
		return ds.new("mini_store_"+name, help, "journal")
	}
	return &storeDescs{
		appends:       d("appends_total", "Records appended to the journal since Open."),
		appendBytes:   d("append_bytes_total", "Bytes of record lines written to the journal since Open."),
		batches:       d("batches_total", "Group commits (writes carrying one or more records) since Open."),
		fsync:         d("fsync_seconds", "Latency of the fsyncs of the journal's active file."),
		rotations:     d("rotations_total", "Active files sealed into segments since Open."),
		segments:      d("segments", "Files of the journal, the active one included."),
		bytes:         d("bytes", "Bytes of the journal's files, preallocated space excluded."),
		preallocSteps: d("prealloc_steps_total", "Extensions of the active file with zeros since Open."),
		tornRepairs:   d("torn_tail_repairs_total", "Torn tails Open cut off (0 or 1)."),
		recovery:      d("recovery_seconds", "How long the journal's Open took."),
	}
}

func (d *storeDescs) collect(ch chan<- prometheus.Metric, st ministore.Stats, journal string) {
	ch <- counter(d.appends, st.Appends, journal)
	ch <- counter(d.appendBytes, st.AppendBytes, journal)
	ch <- counter(d.batches, st.Batches, journal)
	ch <- histogram(d.fsync, st.FsyncLatency, journal)
	ch <- counter(d.rotations, st.Rotations, journal)
	ch <- gauge(d.segments, float64(st.Segments), journal)
	ch <- gauge(d.bytes, float64(st.Bytes), journal)
	ch <- counter(d.preallocSteps, st.PreallocSteps, journal)
	ch <- counter(d.tornRepairs, st.TornTailRepairs, journal)
	ch <- gauge(d.recovery, st.Recovery.Seconds(), journal)
}
