// SPDX-License-Identifier: MIT OR Apache-2.0

package promstats

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mini-go/mini/miniraft"
)

// RaftStats is what a miniraft.Manager offers.
type RaftStats interface{ Stats() miniraft.Stats }

// NewRaftCollector returns a Collector of the figures of m, read on every
// scrape: the mini_raft_* metrics (per follower, on the leader, with the
// label follower="ID"), and the mini_store_* metrics of the journal holding
// the raft log with the label journal="raft". constLabels, which may be
// nil, are added to every metric.
func NewRaftCollector(m RaftStats, constLabels prometheus.Labels) prometheus.Collector {
	ds := &descs{constLabels: constLabels}
	store, raft := newStoreDescs(ds), newRaftDescs(ds)
	return &collector{ds.all, func(ch chan<- prometheus.Metric) {
		st := m.Stats()
		store.collect(ch, st.Journal, "raft")
		raft.collect(ch, st)
	}}
}

// raftRoles are the values of the mini_raft_role label.
var raftRoles = []string{"leader", "follower", "candidate", "shutdown"}

// raftDescs describe the mini_raft_* metrics.
type raftDescs struct {
	role, term, lastLog, commit, applied, sequence, snapshot, pending, contact *prometheus.Desc
	// per follower, on the leader
	match, lag, followerContact *prometheus.Desc
}

func newRaftDescs(ds *descs) *raftDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return ds.new("mini_raft_"+name, help, labels...)
	}
	return &raftDescs{
		role:            d("role", "1 for the node's raft role, 0 for the others.", "role"),
		term:            d("term", "The node's current raft term."),
		lastLog:         d("last_log_index", "Index of the newest log the node holds."),
		commit:          d("commit_index", "Index of the newest log the node knows is committed."),
		applied:         d("applied_index", "Index of the newest log raft handed to the state."),
		sequence:        d("sequence", "Index of the newest log applied to the state (Manager.Sequence)."),
		snapshot:        d("last_snapshot_index", "Index of the newest snapshot."),
		pending:         d("fsm_pending", "Batches of committed logs waiting to be applied."),
		contact:         d("last_contact_seconds", "On a follower, seconds since it last heard from the leader (-1: never); 0 on the leader."),
		match:           d("follower_match_index", "On the leader: the newest log a follower is known to hold.", "follower"),
		lag:             d("follower_lag", "On the leader: logs it holds beyond a follower's match index.", "follower"),
		followerContact: d("follower_last_contact_seconds", "On the leader: seconds since a follower last answered (-1: not since this node became leader).", "follower"),
	}
}

func (d *raftDescs) collect(ch chan<- prometheus.Metric, st miniraft.Stats) {
	for _, r := range raftRoles {
		v := 0.0
		if r == st.Role {
			v = 1
		}
		ch <- gauge(d.role, v, r)
	}
	ch <- gauge(d.term, float64(st.Term))
	ch <- gauge(d.lastLog, float64(st.LastLogIndex))
	ch <- gauge(d.commit, float64(st.CommitIndex))
	ch <- gauge(d.applied, float64(st.AppliedIndex))
	ch <- gauge(d.sequence, float64(st.Sequence))
	ch <- gauge(d.snapshot, float64(st.LastSnapshotIndex))
	ch <- gauge(d.pending, float64(st.FSMPending))
	ch <- gauge(d.contact, seconds(st.LastContact))
	for _, f := range st.Followers {
		ch <- gauge(d.match, float64(f.Match), f.ID)
		ch <- gauge(d.lag, float64(f.Lag), f.ID)
		ch <- gauge(d.followerContact, seconds(f.LastContact), f.ID)
	}
}

// seconds is d in seconds, with -1 (never) kept as -1.
func seconds(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return d.Seconds()
}
