// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/vfs"
)

// syncGate holds or fails the fsyncs of one node's raft log.
type syncGate struct {
	hold    atomic.Bool
	fail    atomic.Bool
	mu      sync.Mutex
	release chan struct{}
}

var errInjectedSync = errors.New("injected fsync failure")

// gatedCluster starts three nodes whose raft logs' fsyncs the returned
// gates control.
func gatedCluster(t *testing.T) (*cluster, map[string]*syncGate) {
	return gatedClusterWith(t, nil)
}

// gatedClusterWith is gatedCluster with the nodes' transports, if not nil.
func gatedClusterWith(t *testing.T, trans map[string]raft.Transport) (*cluster, map[string]*syncGate) {
	gates := map[string]*syncGate{}
	for _, id := range []string{"n1", "n2", "n3"} {
		gates[id] = newSyncGate()
	}
	c := newCluster(t, 3, func(o *Options) {
		o.Store.FS = gates[o.ID].fs(vfs.OS)
		if trans != nil {
			o.Transport, o.Bind, o.TLS = trans[o.ID], "", nil
		}
	})
	// Before the nodes close (cleanups run last first): a held fsync
	// would keep Close waiting.
	t.Cleanup(func() {
		for _, g := range gates {
			g.open()
		}
	})
	return c, gates
}

func newSyncGate() *syncGate { return &syncGate{release: make(chan struct{})} }

// fs returns under with the fsyncs of the raft log going through g.
func (g *syncGate) fs(under vfs.FS) vfs.FS {
	f := vfs.NewFaulty(under)
	f.FailWhen(func(op vfs.Op) error {
		// The active file keeps the name it was created with.
		if b := filepath.Base(op.Path); op.Kind != vfs.OpSync || (b != "raft.log" && b != "raft.log.tmp") {
			return nil
		}
		if g.hold.Load() {
			g.mu.Lock()
			ch := g.release
			g.mu.Unlock()
			<-ch
		}
		if g.fail.Load() {
			return errInjectedSync
		}
		return nil
	})
	return f
}

// open lets held fsyncs go, and holds no more.
func (g *syncGate) open() {
	g.hold.Store(false)
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.release:
	default:
		close(g.release)
	}
}

// leaderHeld starts a gated cluster whose leader has applied ID 1, holds
// the leader's fsync, and runs apply (of ID 2) on the leader in the
// background; it returns once every follower has stored the log, with the
// leader's gate and the channel that gets apply's error.
func leaderHeld(t *testing.T, apply func(l *node) error) (*cluster, *node, *syncGate, <-chan error) {
	t.Helper()
	c, gates := gatedCluster(t)
	l := c.leader()
	if _, err := l.Apply(add{ID: 1}); err != nil {
		t.Fatal(err)
	}
	before, err := l.logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	g := gates[l.ID()]
	g.hold.Store(true)
	done := make(chan error, 1)
	go func() { done <- apply(l) }()
	for _, m := range c.followers(l) {
		waitFor(t, m.ID()+" to store the log", func() bool {
			n, _ := m.logs.LastIndex()
			return n > before
		})
	}
	return c, l, g, done
}

func hasID(m *node, id int) (found bool) {
	m.View(func(s *ledger) { found = slices.Contains(s.IDs, id) })
	return found
}

// TestLeaderSyncsInParallel holds the leader's fsync of its log: the
// followers still get and store the log (the leader's fsync runs while it
// replicates), but no node applies it, and Apply does not return, until
// the leader's copy is durable too.
func TestLeaderSyncsInParallel(t *testing.T) {
	c, gates := gatedCluster(t)
	testLeaderSyncsInParallel(t, c, gates)
}

// TestLeaderSyncsInParallelPipelined is TestLeaderSyncsInParallel over
// raft's in-memory transport, which pipelines AppendEntries (the TCP
// transport of a Manager does not): the commit index they carry is capped
// too.
func TestLeaderSyncsInParallelPipelined(t *testing.T) {
	trans := map[string]raft.Transport{}
	var all []*raft.InmemTransport
	for _, id := range []string{"n1", "n2", "n3"} {
		_, tr := raft.NewInmemTransport(raft.ServerAddress(id))
		trans[id] = tr
		all = append(all, tr)
	}
	for _, a := range all {
		for _, b := range all {
			if a != b {
				a.Connect(b.LocalAddr(), b)
			}
		}
	}
	c, gates := gatedClusterWith(t, trans)
	testLeaderSyncsInParallel(t, c, gates)
}

func testLeaderSyncsInParallel(t *testing.T, c *cluster, gates map[string]*syncGate) {
	l := c.leader()
	if _, err := l.Apply(add{ID: 1}); err != nil {
		t.Fatal(err)
	}
	g := gates[l.ID()]
	before, err := l.logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	g.hold.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := l.Apply(add{ID: 2})
		done <- err
	}()
	waitFor(t, "the followers to store the log", func() bool {
		for id, m := range c.nodes {
			if id == l.ID() {
				continue
			}
			if n, _ := m.logs.LastIndex(); n <= before {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // raft commits, and tells the followers, within 5 ms
	select {
	case err := <-done:
		t.Fatalf("Apply returned (%v) before the leader's fsync", err)
	default:
	}
	for id, m := range c.nodes {
		if hasID(m, 2) {
			t.Fatalf("%s applied a log the leader has not made durable", id)
		}
	}
	g.open()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !hasID(l, 2) {
		t.Fatal("the leader's Apply returned before it applied the log")
	}
	for id, m := range c.nodes {
		waitFor(t, id+" to apply the log", func() bool { return hasID(m, 2) })
	}
}

// TestLeaderSyncFails fails the leader's fsync of its log: its Apply
// fails with ErrFailed and it applies nothing more, although the
// followers stored the log.
func TestLeaderSyncFails(t *testing.T) {
	c, gates := gatedCluster(t)
	l := c.leader()
	if _, err := l.Apply(add{ID: 1}); err != nil {
		t.Fatal(err)
	}
	gates[l.ID()].fail.Store(true)
	_, err := l.Apply(add{ID: 2})
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("Apply with the leader's fsync failing: %v, want ErrFailed", err)
	}
	if hasID(l, 2) {
		t.Fatal("the leader applied a log it could not make durable")
	}
}

// TestLeaderSyncFailsOutcomeUnknown fails the leader's fsync of a log the
// followers stored: the followers, a majority, may still commit and apply
// it under a new leader, so the Apply that failed on the old leader must
// say the outcome is unknown (a retry with the same ID is then safe), not
// that the mutation was refused for good.
func TestLeaderSyncFailsOutcomeUnknown(t *testing.T) {
	// Hold the leader's fsync until the followers stored the log, then
	// fail it.
	c, l, g, done := leaderHeld(t, func(l *node) error {
		_, _, err := l.ApplyWithID("two", add{ID: 2})
		return err
	})
	g.fail.Store(true)
	g.open()
	err := <-done
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("Apply with the leader's fsync failing: %v, want ErrFailed", err)
	}
	// The failed node goes; the others hold the log durably.
	l.shutdown() // its log's Close reports the failed fsync
	c.nodes[l.ID()] = nil
	n := c.leader()
	seq, dup, rerr := n.ApplyWithID("two", add{ID: 2})
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !hasID(n, 2) {
		t.Fatal("the new leader has not applied the mutation")
	}
	if !dup {
		t.Fatalf("ApplyWithID again applied the mutation anew (at %d): the followers' copy was lost", seq)
	}
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("the mutation was applied (at %d) after Apply failed with %v: that error must match ErrOutcomeUnknown", seq, err)
	}
	for _, m := range c.followers(nil) {
		waitFor(t, m.ID()+" to apply the log", func() bool { return hasID(m, 2) })
	}
}

// TestLeaderPowerLoss commits a log with the leader's copy written but not
// durable: one follower stores it, the other's fsync is held. Then the
// leader and that follower lose power (their unsynced data is gone), the
// follower that holds the log stops, and the two others elect a leader
// without it, which overwrites the log. The Apply of that log must not
// have returned success, no node may have applied it, and after the
// third node comes back every node holds the same state with every
// acknowledged mutation.
func TestLeaderPowerLoss(t *testing.T) {
	mems, gates := map[string]*vfs.Mem{}, map[string]*syncGate{}
	for _, id := range []string{"n1", "n2", "n3"} {
		mems[id], gates[id] = vfs.NewMem(), newSyncGate()
	}
	c := newCluster(t, 3, func(o *Options) { o.Store.FS = gates[o.ID].fs(mems[o.ID]) })
	t.Cleanup(func() {
		for _, g := range gates {
			g.open()
		}
	})
	l := c.leader()
	seq1, err := l.Apply(add{ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	acked := map[int]uint64{1: seq1}
	fs := c.followers(l)
	keeper, lagger := fs[0], fs[1]
	before, err := keeper.logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	gates[l.ID()].hold.Store(true)
	gates[lagger.ID()].hold.Store(true)
	type result struct {
		seq uint64
		err error
	}
	done := make(chan result, 1)
	go func() {
		seq, err := l.Apply(add{ID: 2})
		done <- result{seq, err}
	}()
	waitFor(t, keeper.ID()+" to store the log", func() bool {
		n, _ := keeper.logs.LastIndex()
		return n > before
	})
	time.Sleep(300 * time.Millisecond) // the leader commits it within 5 ms
	for id, m := range c.nodes {
		if hasID(m, 2) {
			t.Fatalf("%s applied a log only one node holds durably", id)
		}
	}
	// Power loss of the leader and of the lagging follower: their disks
	// keep only what was fsync'd.
	crashed := map[string]*vfs.Mem{}
	for _, m := range []*node{l, lagger} {
		crashed[m.ID()] = mems[m.ID()].CrashClone(vfs.CrashOptions{})
	}
	for _, m := range []*node{l, lagger} {
		g := gates[m.ID()]
		g.fail.Store(true)
		g.open()
	}
	r := <-done
	if r.err == nil {
		acked[2] = r.seq // it must then survive
	}
	c.stopHard(keeper.ID())
	for _, m := range []*node{l, lagger} {
		m.shutdown() // their logs' Close reports the failed fsync
		c.nodes[m.ID()] = nil
	}
	for id, mem := range crashed {
		mems[id], gates[id] = mem, newSyncGate()
		c.start(id, false)
	}
	for id, seq := range c.applyMany(3, 5, 1) {
		acked[id] = seq
	}
	c.start(keeper.ID(), false)
	st := c.converge(acked)
	if r.err == nil && !slices.Contains(st.IDs, 2) {
		t.Fatalf("Apply of 2 returned %d, nil, and the mutation is lost", r.seq)
	}
	t.Logf("Apply of the log the leader lost: %v; the state now: %v", r.err, st.IDs)
}

// TestLazySyncBookkeeping drives a LogStore as raft drives a Manager's: it
// stores command logs lazily while leading, other logs with their fsync,
// and, as a follower, has its tail cut and rewritten, then leads again;
// its syncer runs all along, late to record its fsyncs. At random points
// it takes the disk as a power loss would leave it, and checks that every
// log that clampCommit or waitSynced call durable is on it as stored.
// MINI_LAZYSYNC_STEPS sets the number of steps (default 150).
func TestLazySyncBookkeeping(t *testing.T) {
	steps := 150
	if s := os.Getenv("MINI_LAZYSYNC_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		steps = n
	}
	mem := vfs.NewMem()
	const path = "/node/raft.log"
	// Logs land between the syncer's fsync and its bookkeeping (the
	// journal takes no write during an fsync).
	afterSyncHook = func() { time.Sleep(rand.N(300 * time.Microsecond)) }
	defer func() { afterSyncHook = nil }() // after Close (deferred later) ends the syncer
	l, err := OpenLogStore(path, quietOpts(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var state atomic.Uint32
	state.Store(uint32(raft.Leader))
	l.setLazy(func() raft.RaftState { return raft.RaftState(state.Load()) })

	rnd := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	want := []*raft.Log{nil} // want[i]: the log at index i
	term := uint64(1)
	mk := func(typ raft.LogType) *raft.Log {
		i := uint64(len(want))
		lg := &raft.Log{Index: i, Term: term, Type: typ, Data: fmt.Appendf(nil, "%d/%d", i, term)}
		want = append(want, lg)
		return lg
	}
	checks, lazyChecks := 0, 0
	for step := range steps {
		switch r := rnd.IntN(20); {
		case r < 14: // commands from the leader: stored lazily
			var logs []*raft.Log
			for range 1 + rnd.IntN(3) {
				logs = append(logs, mk(raft.LogCommand))
			}
			if err := l.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
		case r < 16: // a configuration, a barrier: fsync'd before StoreLogs returns
			if err := l.StoreLogs([]*raft.Log{mk(raft.LogBarrier)}); err != nil {
				t.Fatal(err)
			}
		default: // a new leader cuts the tail and sends its own logs
			state.Store(uint32(raft.Follower))
			cut := max(1, len(want)-1-rnd.IntN(4))
			if err := l.DeleteRange(uint64(cut), uint64(len(want)-1)); err != nil {
				t.Fatal(err)
			}
			want = want[:cut]
			term++
			if err := l.StoreLogs([]*raft.Log{mk(raft.LogCommand), mk(raft.LogNoop)}); err != nil {
				t.Fatal(err)
			}
			state.Store(uint32(raft.Leader))
		}
		if rnd.IntN(8) != 0 && step != steps-1 {
			continue
		}
		last := uint64(len(want) - 1)
		durable := l.clampCommit(last)
		if rnd.IntN(3) == 0 {
			if err := l.waitSynced(last); err != nil {
				t.Fatal(err)
			}
			durable = last
		}
		if durable < last {
			lazyChecks++
		}
		checks++
		crash := mem.CrashClone(vfs.CrashOptions{})
		c, err := OpenLogStore(path, quietOpts(crash))
		if err != nil {
			t.Fatalf("step %d: open after power loss: %v", step, err)
		}
		for i := uint64(1); i <= durable; i++ {
			var got raft.Log
			if err := c.GetLog(i, &got); err != nil {
				t.Fatalf("step %d: log %d called durable (of %d) is not on disk after a power loss: %v", step, i, last, err)
			}
			if !sameLog(&got, want[i]) {
				t.Fatalf("step %d: log %d after a power loss is %q, want %q", step, i, got.Data, want[i].Data)
			}
		}
		c.Close()
	}
	t.Logf("%d checks, %d of them with logs not yet durable", checks, lazyChecks)
	if lazyChecks == 0 {
		t.Fatal("no check saw a log stored lazily and not yet durable")
	}
}

// TestLeaderSyncLeadershipLost hands leadership over while the leader's
// copy of a log is written but its fsync held: the new leader, whose copy
// and the other follower's are durable, commits and applies the log; the
// old leader, now a follower, applies it only once its own copy is
// durable; the Apply on it succeeds or reports an unknown outcome.
func TestLeaderSyncLeadershipLost(t *testing.T) {
	c, l, g, done := leaderHeld(t, func(l *node) error {
		_, err := l.Apply(add{ID: 2})
		return err
	})
	if err := l.raft.LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	var n *node
	waitFor(t, "a new leader", func() bool {
		n = c.findLeader()
		return n != nil && n != l
	})
	waitFor(t, "the new leader to apply the log", func() bool { return hasID(n, 2) })
	if hasID(l, 2) {
		t.Fatal("the old leader applied the log before its copy is durable")
	}
	g.open()
	if err := <-done; err != nil && !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("Apply on the old leader: %v, want nil or ErrOutcomeUnknown", err)
	}
	for _, m := range c.nodes {
		waitFor(t, m.ID()+" to apply the log", func() bool { return hasID(m, 2) })
	}
	c.converge(map[int]uint64{})
}

// TestLeaderSyncFailsUnderLoad fails the leader's fsync while clients
// apply on it: every Apply returns, each acknowledged mutation survives
// on the other nodes, and each that failed without ErrOutcomeUnknown is
// applied nowhere.
func TestLeaderSyncFailsUnderLoad(t *testing.T) {
	c, gates := gatedCluster(t)
	var (
		mu      sync.Mutex
		acked   = map[int]uint64{}
		refused []int
		wg      sync.WaitGroup
		next    atomic.Int64
		target  atomic.Pointer[node] // the leader the clients call
		faulted atomic.Bool
	)
	target.Store(c.leader())
	stop := make(chan struct{})
	runUntil(&wg, stop, 6, func() bool {
		id := int(next.Add(1))
		seq, err := target.Load().Apply(add{ID: id})
		mu.Lock()
		switch {
		case err == nil:
			acked[id] = seq
		case !errors.Is(err, ErrOutcomeUnknown):
			refused = append(refused, id)
			if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrFailed) && !errors.Is(err, ErrClosed) {
				t.Errorf("apply %d: %v", id, err)
			}
		}
		mu.Unlock()
		if errors.Is(err, ErrNotLeader) && !faulted.Load() {
			// Leadership moved before the fault (a loaded machine's
			// election): carry on with the new leader.
			time.Sleep(10 * time.Millisecond)
			return true
		}
		return !errors.Is(err, ErrNotLeader) // it stepped down
	})
	waitFor(t, "some mutations to be acknowledged", func() bool {
		if !target.Load().IsLeader() {
			for _, m := range c.nodes {
				if m != nil && m.IsLeader() {
					target.Store(m)
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 20
	})
	l := target.Load()
	faulted.Store(true)
	gates[l.ID()].fail.Store(true)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	end := make(chan struct{})
	go func() { wg.Wait(); close(end) }()
	select {
	case <-end:
	case <-time.After(15 * time.Second):
		t.Fatal("Apply calls still waiting 15s after the leader's fsync failed")
	}
	l.shutdown() // its log's Close reports the failed fsync
	c.nodes[l.ID()] = nil
	n := c.leader()
	if _, err := n.Apply(add{ID: -1}); err != nil { // commits whatever the old leader replicated
		t.Fatal(err)
	}
	acked[-1] = 0
	st := c.converge(acked)
	for _, id := range refused {
		if slices.Contains(st.IDs, id) {
			t.Fatalf("mutation %d is applied, yet its Apply failed without ErrOutcomeUnknown", id)
		}
	}
	t.Logf("%d acknowledged, %d refused, %d in the state", len(acked), len(refused), len(st.IDs))
}

// TestStoredSignalAnsweredByLaterSync: the grouper's wait for "raft has
// stored the log I sent" (storedSignal) is answered by an fsync that begins
// after the wait, not by one already under way, which may not hold the log.
// Answered early, the grouper sends its next group while the log before is
// still unsynced, and calls still queued could no longer fail exactly.
func TestStoredSignalAnsweredByLaterSync(t *testing.T) {
	var hold atomic.Bool
	entered := make(chan chan struct{})
	f := vfs.NewFaulty(vfs.NewMem())
	f.FailWhen(func(op vfs.Op) error {
		b := filepath.Base(op.Path)
		if op.Kind == vfs.OpSync && (b == "raft.log" || b == "raft.log.tmp") && hold.Load() {
			release := make(chan struct{})
			entered <- release
			<-release
		}
		return nil
	})
	l, err := OpenLogStore("/node/raft.log", quietOpts(f))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.setLazy(func() raft.RaftState { return raft.Leader })
	store := func(i uint64) {
		t.Helper()
		if err := l.StoreLogs([]*raft.Log{{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
	}

	hold.Store(true)
	store(1)
	release1 := <-entered // the syncer is fsyncing log 1
	sig := l.storedSignal()
	close(release1)
	store(2)
	release2 := <-entered // the syncer has finished with log 1
	hold.Store(false)
	select {
	case <-sig:
		close(release2)
		t.Fatal("the fsync of log 1, under way before the wait, answered it")
	default:
	}
	close(release2)
	select {
	case <-sig:
	case <-time.After(10 * time.Second):
		t.Fatal("the fsync of log 2 did not answer the wait")
	}
	if err := l.waitSynced(2); err != nil {
		t.Fatal(err)
	}
}
