// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministore"
)

// Stats are a node's figures, for monitoring: what hashicorp/raft reports
// of the node (role, term, indexes), on the leader what it learned of each
// follower, and the figures of the journal that holds the raft log.
type Stats struct {
	Role         string `json:"role"` // "leader", "follower", "candidate" or "shutdown"
	Term         uint64 `json:"term"`
	LastLogIndex uint64 `json:"last_log_index"` // the newest log this node holds (or its newest snapshot's index)
	CommitIndex  uint64 `json:"commit_index"`   // the newest log this node knows is committed
	AppliedIndex uint64 `json:"applied_index"`  // the newest log raft handed to the state
	// Sequence is Manager.Sequence: the newest log applied to the state.
	Sequence          uint64 `json:"sequence"`
	LastSnapshotIndex uint64 `json:"last_snapshot_index"`
	// FSMPending counts the batches of committed logs waiting to be
	// applied.
	FSMPending uint64 `json:"fsm_pending"`
	// LastContact is, on a follower, how long ago it last heard from the
	// leader; -1 if never. 0 on the leader.
	LastContact time.Duration `json:"last_contact_ns"`
	// Followers are, on the leader only, the other servers of the
	// configuration, sorted by ID.
	Followers []FollowerStats `json:"followers"`
	// Journal is the figures of the journal holding the raft log
	// (dir/raft.log): appends, fsyncs and their latency since Open.
	Journal ministore.Stats `json:"journal"`
}

// FollowerStats are what the leader knows of one follower, learned from
// its answers to the leader's AppendEntries since this node became leader.
type FollowerStats struct {
	ID    string `json:"id"`
	Addr  string `json:"addr"`
	Voter bool   `json:"voter"`
	Known bool   `json:"known"`       // false until the follower answered this leader
	Match uint64 `json:"match_index"` // the newest log the follower is known to hold
	Lag   uint64 `json:"lag"`         // logs the leader holds beyond Match
	// LastContact is how long ago the follower last answered; -1 if it
	// has not answered this leader.
	LastContact time.Duration `json:"last_contact_ns"`
}

// Stats returns the node's figures. It asks raft for its configuration,
// so on a busy node it can wait behind raft's main loop for a moment.
func (m *Manager[S, M]) Stats() Stats {
	r := m.raft
	st := Stats{
		Role:         strings.ToLower(r.State().String()),
		Term:         r.CurrentTerm(),
		LastLogIndex: r.LastIndex(),
		CommitIndex:  r.CommitIndex(),
		AppliedIndex: r.AppliedIndex(),
		Sequence:     m.fsm.sequence(),
		LastContact:  -1,
		Followers:    []FollowerStats{},
		Journal:      m.logs.Stats(),
	}
	rs := r.Stats()
	st.LastSnapshotIndex, _ = strconv.ParseUint(rs["last_snapshot_index"], 10, 64)
	st.FSMPending, _ = strconv.ParseUint(rs["fsm_pending"], 10, 64)
	if r.State() == raft.Leader {
		st.LastContact = 0
	} else if t := r.LastContact(); !t.IsZero() {
		st.LastContact = time.Since(t)
	}
	if st.Role != "leader" {
		return st
	}
	f := r.GetConfiguration()
	if f.Error() != nil {
		return st
	}
	now := time.Now()
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(m.opts.ID) {
			continue
		}
		fs := FollowerStats{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter,
			Lag: st.LastLogIndex, LastContact: -1}
		if seen, ok := m.repl.follower(st.Term, s.ID); ok {
			fs.Known, fs.Match, fs.LastContact = true, seen.match, now.Sub(seen.contact)
			fs.Lag = st.LastLogIndex - min(seen.match, st.LastLogIndex)
		}
		st.Followers = append(st.Followers, fs)
	}
	return st
}

// Stats returns the figures of the journal holding the log.
func (s *LogStore) Stats() ministore.Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.j == nil {
		return ministore.Stats{}
	}
	return s.j.Stats()
}
