// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// The figures of a 3-node cluster move as it works: indexes grow on every
// node, the leader sees its followers catch up, and a stopped follower's
// lag grows while the other's does not.
//
// Every Apply has a log of its own here (ApplyGroup -1), so that n Applies
// move the indexes by n.
func TestClusterStats(t *testing.T) {
	c := newCluster(t, 3, func(o *Options) { o.ApplyGroup = -1 })
	acked := c.applyMany(1, 40, 2)
	c.converge(acked)
	leader := c.leader()
	before := leader.Stats()
	if before.Role != "leader" || before.Term == 0 || before.CommitIndex == 0 || before.LastContact != 0 ||
		before.Journal.Appends == 0 || len(before.Followers) != 2 {
		t.Fatalf("leader stats: %+v", before)
	}
	// Every follower answered this leader and holds its log (heartbeats
	// carry no logs: wait for an append to pass after converge).
	waitFor(t, "followers to catch up", func() bool {
		st := leader.Stats()
		for _, f := range st.Followers {
			if !f.Known || f.Lag != 0 || f.Match != st.LastLogIndex || f.LastContact < 0 {
				return false
			}
		}
		return true
	})
	for id, m := range c.nodes {
		if m == leader {
			continue
		}
		st := m.Stats()
		if st.Role != "follower" || st.Term != before.Term || st.CommitIndex == 0 || st.AppliedIndex == 0 ||
			st.Sequence == 0 || st.LastContact < 0 || len(st.Followers) != 0 {
			t.Fatalf("follower %s stats: %+v", id, st)
		}
	}

	// Stop one follower: its lag grows with the logs the others take.
	stopped := c.followers(leader)[0].ID()
	c.stopHard(stopped)
	// Concurrent applies may share a log (group logs): wait for the
	// newest sequence number acknowledged, not for 20 logs.
	var top uint64
	for _, seq := range c.applyMany(1001, 20, 2) {
		top = max(top, seq)
	}
	if top <= before.LastLogIndex {
		t.Fatalf("applies acknowledged up to %d, the log was at %d already", top, before.LastLogIndex)
	}
	var st Stats
	waitFor(t, "the figures to move", func() bool {
		st = leader.Stats()
		return st.CommitIndex >= top && st.AppliedIndex >= top && st.Sequence >= top
	})
	if st.Role != "leader" || st.Journal.Appends <= before.Journal.Appends {
		t.Fatalf("after 20 more: %+v (before %+v)", st, before)
	}
	time.Sleep(50 * time.Millisecond)
	st = leader.Stats()
	for _, f := range st.Followers {
		switch {
		case f.ID == stopped && (f.Lag < top-before.LastLogIndex || f.LastContact < 50*time.Millisecond):
			t.Fatalf("stopped follower %s: %+v", f.ID, f)
		case f.ID != stopped && f.Lag > 0 && f.Match+f.Lag != st.LastLogIndex:
			t.Fatalf("running follower %s: %+v (leader at %d)", f.ID, f, st.LastLogIndex)
		}
	}
}

// The pipelined AppendEntries of a transport that has them are seen too,
// and the pipeline's answers still reach raft.
func TestWatchedPipeline(t *testing.T) {
	_, a := raft.NewInmemTransport("a")
	_, b := raft.NewInmemTransport("b")
	a.Connect("b", b)
	b.Connect("a", a)
	go func() { // b answers every AppendEntries with success
		for rpc := range b.Consumer() {
			rpc.Respond(&raft.AppendEntriesResponse{Success: true}, nil)
		}
	}()
	var rep replication
	w := watchTransport(a, &rep, nil)
	if _, ok := w.(raft.WithPreVote); !ok {
		t.Fatal("the watched InmemTransport lost pre-vote")
	}
	p, err := w.AppendEntriesPipeline("b", "b")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	req := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{Addr: []byte("a")}, Term: 3, PrevLogEntry: 7,
		Entries: []*raft.Log{{Index: 8}, {Index: 9}}}
	if _, err := p.AppendEntries(req, &raft.AppendEntriesResponse{}); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-p.Consumer():
		if f.Error() != nil || !f.Response().Success {
			t.Fatalf("answer %v %+v", f.Error(), f.Response())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the answer did not reach the consumer")
	}
	if f, ok := rep.follower(3, "b"); !ok || f.match != 9 {
		t.Fatalf("seen %+v %v, want match 9", f, ok)
	}
	if _, ok := rep.follower(4, "b"); ok {
		t.Fatal("figures of term 3 reported for term 4")
	}
}
