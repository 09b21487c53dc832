// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministate"
)

// The cluster tests run three real nodes in this process, each with its
// own folder and a TCP listener on 127.0.0.1. A "hard stop" shuts raft
// down without a leadership transfer and closes the node's files; the
// test that kills a leader process outright is in process_test.go.

// ledger is the replicated state of the tests: every mutation's id, in
// the order the cluster applied them.
type ledger struct {
	IDs []int `json:"ids"`
	Sum int   `json:"sum"`
}

type add struct {
	ID    int  `json:"id"`
	Limit int  `json:"limit,omitempty"` // refuse if Sum would exceed it
	Boom  bool `json:"boom,omitempty"`  // panic in Apply
	Wait  bool `json:"wait,omitempty"`  // report to applyEntered, then wait for applyGate
}

// waitGate holds Wait mutations: entered receives the id of one when a
// node starts to apply it; closing release lets them go on. With no
// release set (startWait), Wait does nothing.
var waitGate struct {
	sync.Mutex
	entered chan int
	release chan struct{}
}

func (a add) Apply(s *ledger) {
	if a.Boom {
		panic("boom")
	}
	if a.Wait {
		waitGate.Lock()
		entered, release := waitGate.entered, waitGate.release
		waitGate.Unlock()
		if release != nil {
			select {
			case entered <- a.ID:
			default:
			}
			<-release
		}
	}
	s.IDs = append(s.IDs, a.ID)
	s.Sum += a.ID
}

func (a add) Validate(s *ledger) error {
	if a.Limit > 0 && s.Sum+a.ID > a.Limit {
		return fmt.Errorf("sum %d + %d exceeds %d", s.Sum, a.ID, a.Limit)
	}
	return nil
}

// testRaftConfig is raft's configuration for tests: fast elections, with
// room for TLS handshakes under -race on a loaded 2-core machine (at 250 ms
// leadership was lost in the middle of tests), and
// snapshots every 64 logs keeping 32, so that compaction happens.
func testRaftConfig() *raft.Config {
	c := raft.DefaultConfig()
	c.HeartbeatTimeout = 600 * time.Millisecond
	c.ElectionTimeout = 600 * time.Millisecond
	c.LeaderLeaseTimeout = 500 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotThreshold = 64
	c.TrailingLogs = 32
	c.SnapshotInterval = 100 * time.Millisecond
	return c
}

type node = Manager[ledger, add]

type cluster struct {
	t     testing.TB
	dirs  map[string]string
	nodes map[string]*node // nil when stopped
	opts  func(*Options)
}

func nodeOptions(id string) *Options {
	return &Options{ID: id, Bind: "127.0.0.1:0", TLS: nodeTLS(id), Raft: testRaftConfig(), Logger: testutil.Quiet(), ApplyTimeout: 5 * time.Second}
}

// newCluster starts n nodes: n1 bootstraps, the leader adds the others.
func newCluster(t testing.TB, n int, opts func(*Options)) *cluster {
	t.Helper()
	c := &cluster{t: t, dirs: map[string]string{}, nodes: map[string]*node{}, opts: opts}
	base := t.TempDir() // first, so that it is removed after the nodes close
	t.Cleanup(func() {
		for _, m := range c.nodes {
			if m != nil {
				m.Close()
			}
		}
	})
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("n%d", i)
		c.dirs[id] = filepath.Join(base, id)
		c.start(id, i == 1)
		if i == 1 {
			c.leader()
			continue
		}
		// On a loaded machine the leader may lose its lease while the new
		// node connects; adding a voter again is harmless.
		for try := 0; ; try++ {
			err := c.leader().AddVoter(id, c.nodes[id].Addr())
			if err == nil {
				break
			}
			if try == 5 {
				t.Fatalf("add %s: %v", id, err)
			}
			t.Logf("add %s: %v; again", id, err)
		}
	}
	return c
}

func (c *cluster) start(id string, bootstrap bool) *node {
	c.t.Helper()
	o := nodeOptions(id)
	o.Bootstrap = bootstrap
	if c.opts != nil {
		c.opts(o)
	}
	m, err := Open[ledger, add](c.dirs[id], o)
	if err != nil {
		c.t.Fatalf("start %s: %v", id, err)
	}
	c.nodes[id] = m
	return m
}

// stopHard stops a node without handing over leadership.
func (c *cluster) stopHard(id string) {
	c.t.Helper()
	if err := c.nodes[id].shutdown(); err != nil {
		c.t.Fatalf("stop %s: %v", id, err)
	}
	c.nodes[id] = nil
}

// leader waits for a leader among the running nodes and returns it.
func (c *cluster) leader() *node {
	c.t.Helper()
	m := c.findLeader()
	if m == nil {
		c.t.Fatal("no leader after 15s")
	}
	return m
}

// followers returns the running nodes other than leader, by ID.
func (c *cluster) followers(leader *node) []*node {
	var out []*node
	for _, id := range slices.Sorted(maps.Keys(c.nodes)) {
		if m := c.nodes[id]; m != nil && m != leader {
			out = append(out, m)
		}
	}
	return out
}

// findLeader is leader for any goroutine: it returns nil after 15s.
func (c *cluster) findLeader() *node {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.nodes {
			if m != nil && m.IsLeader() {
				return m
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// applyMany applies n mutations with ids from first, from workers
// goroutines, on whatever node is leader at the time, and returns the ids
// and sequence numbers acknowledged.
func (c *cluster) applyMany(first, n, workers int) map[int]uint64 {
	c.t.Helper()
	var (
		mu    sync.Mutex
		acked = map[int]uint64{}
		wg    sync.WaitGroup
	)
	ids := make(chan int, n)
	for i := range n {
		ids <- first + i
	}
	close(ids)
	for range workers {
		wg.Go(func() {
			for id := range ids {
				leader := c.findLeader()
				if leader == nil {
					c.t.Error("no leader after 15s")
					return
				}
				seq, err := leader.Apply(add{ID: id})
				if err != nil {
					c.t.Errorf("apply %d: %v", id, err)
					continue
				}
				mu.Lock()
				acked[id] = seq
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return acked
}

// converge waits until every running node has applied up to seq, then
// checks that all states are identical and hold every acknowledged id.
func (c *cluster) converge(acked map[int]uint64) ledger {
	c.t.Helper()
	var top uint64
	for _, seq := range acked {
		top = max(top, seq)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range slices.Sorted(maps.Keys(c.nodes)) {
		m := c.nodes[id]
		if m == nil {
			continue
		}
		for m.Sequence() < top {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s applied up to %d, want %d", id, m.Sequence(), top)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The nodes may go on applying (barriers, noops do not change the
	// state); wait until they agree.
	var states map[string]ledger
	for {
		states = map[string]ledger{}
		for id, m := range c.nodes {
			if m != nil {
				st, err := m.Copy()
				if err != nil {
					c.t.Fatal(err)
				}
				states[id] = st
			}
		}
		if same(states) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var ref ledger
	var refID string
	for id, st := range states {
		if refID == "" {
			ref, refID = st, id
		}
		if !slices.Equal(st.IDs, ref.IDs) || st.Sum != ref.Sum {
			c.t.Fatalf("states differ: %s has %d ids (sum %d), %s has %d (sum %d)", id, len(st.IDs), st.Sum, refID, len(ref.IDs), ref.Sum)
		}
	}
	have := map[int]int{}
	for _, id := range ref.IDs {
		have[id]++
	}
	for id := range acked {
		if have[id] != 1 {
			c.t.Fatalf("acknowledged mutation %d is in the state %d times", id, have[id])
		}
	}
	return ref
}

// convergeTo is converge, then checks that the state holds exactly ids,
// in this order.
func (c *cluster) convergeTo(acked map[int]uint64, ids ...int) {
	c.t.Helper()
	if st := c.converge(acked); !slices.Equal(st.IDs, ids) {
		c.t.Fatalf("state %v, want %v", st.IDs, ids)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func same(states map[string]ledger) bool {
	var ref *ledger
	for _, st := range states {
		if ref == nil {
			ref = &st
		} else if !slices.Equal(st.IDs, ref.IDs) {
			return false
		}
	}
	return true
}

func TestClusterFailover(t *testing.T) {
	c := newCluster(t, 3, nil)
	acked := c.applyMany(1, 150, 4)
	c.converge(acked)

	old := c.leader()
	oldID := old.ID()
	c.stopHard(oldID)
	newLeader := c.leader()
	if newLeader.ID() == oldID {
		t.Fatal("the stopped node is still leader")
	}
	for id, seq := range c.applyMany(1001, 100, 4) {
		acked[id] = seq
	}
	// The old leader comes back from its folder, on its old address.
	m := c.start(oldID, false)
	if m.Addr() != old.Addr() {
		t.Fatalf("restarted on %s, was %s", m.Addr(), old.Addr())
	}
	for id, seq := range c.applyMany(2001, 50, 2) {
		acked[id] = seq
	}
	st := c.converge(acked)
	if len(st.IDs) != len(acked) {
		t.Fatalf("the state holds %d mutations, %d were acknowledged (none failed)", len(st.IDs), len(acked))
	}
	// Sequence numbers are raft indexes: increasing in the order the
	// state holds them, equal for the calls of one group log.
	var prev uint64
	for _, id := range st.IDs {
		if seq := acked[id]; seq < prev {
			t.Fatalf("mutation %d has sequence number %d after %d", id, seq, prev)
		} else {
			prev = seq
		}
	}
}

// A node stopped while the others go on past several snapshots cannot get
// the logs it missed (they are compacted away): the leader sends its
// snapshot. A node restarted from its own snapshot and log resumes from
// them.
func TestClusterSnapshotCatchUp(t *testing.T) {
	c := newCluster(t, 3, nil)
	// One client: 100 logs, beyond SnapshotThreshold (concurrent calls
	// would share logs).
	acked := c.applyMany(1, 100, 1)
	c.converge(acked)

	var lagging string
	for id, m := range c.nodes {
		if !m.IsLeader() {
			lagging = id
			break
		}
	}
	// Raft takes snapshots by itself (SnapshotThreshold 64); wait for one.
	waitFor(t, "a snapshot on "+lagging, func() bool {
		metas, err := c.nodes[lagging].snaps.List()
		return err == nil && len(metas) > 0
	})
	lastSeen := c.nodes[lagging].Sequence()
	c.stopHard(lagging)
	for id, seq := range c.applyMany(1001, 300, 4) {
		acked[id] = seq
	}
	leader := c.leader()
	if _, err := leader.CreateSnapshot(); err != nil {
		t.Fatal(err)
	}
	first, _ := leader.logs.FirstIndex()
	if first <= lastSeen+1 {
		t.Fatalf("the leader's log starts at %d: the logs after %d were not compacted", first, lastSeen)
	}
	// Restart the lagging node, and check that it restored its own newest
	// snapshot before it heard from anyone.
	restarted := c.start(lagging, false)
	metas, err := restarted.snaps.List()
	if err != nil || len(metas) == 0 {
		t.Fatalf("the lagging node has no snapshot of its own: %v %v", metas, err)
	}
	st := c.converge(acked)
	if len(st.IDs) != len(acked) {
		t.Fatalf("the state holds %d mutations, %d were acknowledged", len(st.IDs), len(acked))
	}
	metas, _ = restarted.snaps.List()
	if metas[0].Index <= lastSeen {
		t.Fatalf("the lagging node's newest snapshot covers %d: no snapshot was installed", metas[0].Index)
	}

	// Every node restarted from its folder (snapshot + log) comes back
	// with the same state.
	for _, id := range slices.Sorted(maps.Keys(c.nodes)) {
		c.stopHard(id)
		c.start(id, false)
	}
	c.converge(acked)
}

func TestFollowerNotLeaderAndForward(t *testing.T) {
	c := newCluster(t, 3, func(o *Options) { o.Forward = true })
	leader := c.leader()
	followers := c.followers(leader)
	// The first follower does not pass its own calls on (set before its
	// first call); the second does.
	plain, n3 := followers[0], followers[1]
	plain.opts.Forward = false
	seq, err := leader.Apply(add{ID: 1})
	if err != nil {
		t.Fatal(err)
	}

	// A follower that does not forward: a clear error naming the leader.
	_, err = plain.Apply(add{ID: 2})
	var nl *NotLeaderError
	if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Apply on a follower: %v, want a *NotLeaderError", err)
	}
	if nl.LeaderID != leader.ID() || nl.LeaderAddr != leader.Addr() {
		t.Fatalf("NotLeaderError names %s at %s, want %s at %s", nl.LeaderID, nl.LeaderAddr, leader.ID(), leader.Addr())
	}
	if err := plain.ViewConsistent(func(*ledger) {}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("ViewConsistent on a follower: %v", err)
	}

	// The other forwards: the call returns once it has applied it too.
	seq3, err := n3.Apply(add{ID: 3})
	if err != nil {
		t.Fatal(err)
	}
	if seq3 <= seq || n3.Sequence() < seq3 {
		t.Fatalf("forwarded apply: seq %d after %d, n3 applied %d", seq3, seq, n3.Sequence())
	}
	var sum int
	n3.View(func(s *ledger) { sum = s.Sum })
	if sum != 4 {
		t.Fatalf("n3 sees sum %d after its own apply, want 4", sum)
	}
	// A batch, and a linearizable read through the leader.
	if _, err := n3.ApplyBatch(add{ID: 10}, add{ID: 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Apply(add{ID: 100}); err != nil {
		t.Fatal(err)
	}
	if err := n3.ViewConsistent(func(s *ledger) { sum = s.Sum }); err != nil {
		t.Fatal(err)
	}
	if sum != 134 {
		t.Fatalf("ViewConsistent on n3 sees sum %d, want 134", sum)
	}
	// A refusal travels back as ministate.ErrRefused.
	if _, err := n3.Apply(add{ID: 5, Limit: 10}); !errors.Is(err, ministate.ErrRefused) {
		t.Fatalf("refused forwarded apply: %v", err)
	}
	// Membership through a follower: remove the other one, add it back.
	if err := n3.RemoveServer(plain.ID()); err != nil {
		t.Fatal(err)
	}
	servers, err := leader.Servers()
	if err != nil || len(servers) != 2 {
		t.Fatalf("servers after removing %s: %v, %v", plain.ID(), servers, err)
	}
	if err := n3.AddVoter(plain.ID(), plain.Addr()); err != nil {
		t.Fatal(err)
	}
	c.converge(map[int]uint64{1: seq, 3: seq3})
}

// Validators run when a log is applied, on every node alike; a batch is
// all or nothing; a panic stops the Manager.
func TestClusterValidateAndFail(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader()
	seq, err := leader.ApplyBatch(add{ID: 5}, add{ID: 6, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leader.ApplyBatch(add{ID: 1}, add{ID: 9, Limit: 20}); !errors.Is(err, ministate.ErrRefused) {
		t.Fatalf("refused batch: %v", err)
	}
	if _, err := leader.Apply(add{ID: 9, Limit: 19}); !errors.Is(err, ministate.ErrRefused) {
		t.Fatalf("refused mutation: %v", err)
	}
	if _, err := leader.ApplyBatch(); !errors.Is(err, ministate.ErrEmptyBatch) {
		t.Fatalf("empty batch: %v", err)
	}
	c.convergeTo(map[int]uint64{5: seq, 6: seq}, 5, 6)
	if _, err := leader.Apply(add{ID: 7, Boom: true}); !errors.Is(err, ErrFailed) {
		t.Fatalf("panicking mutation: %v", err)
	}
	if _, err := leader.Apply(add{ID: 8}); !errors.Is(err, ErrFailed) {
		t.Fatalf("apply after a panic: %v", err)
	}
}

func TestManagerClose(t *testing.T) {
	c := newCluster(t, 1, nil)
	m := c.nodes["n1"]
	if _, err := m.Apply(add{ID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.Apply(add{ID: 2}); err != ErrClosed {
		t.Fatalf("Apply after Close: %v", err)
	}
	c.nodes["n1"] = nil
	// A single node restarts on its own: it is its own majority.
	m = c.start("n1", false)
	if _, _, err := m.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.ViewConsistent(func(s *ledger) {
		if s.Sum != 1 {
			t.Errorf("state after restart: %+v", *s)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open[ledger, add](c.dirs["n1"], nodeOptions("n1")); err == nil {
		t.Fatal("a second Manager on the same folder started")
	}
}
