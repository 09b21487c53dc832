// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	gates := map[string]*syncGate{}
	for _, id := range []string{"n1", "n2", "n3"} {
		gates[id] = newSyncGate()
	}
	c := newCluster(t, 3, func(o *Options) { o.Store.FS = gates[o.ID].fs(vfs.OS) })
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
	c, gates := gatedCluster(t)
	l := c.leader()
	if _, err := l.Apply(add{ID: 1}); err != nil {
		t.Fatal(err)
	}
	g := gates[l.ID()]
	before, err := l.logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	// Hold the leader's fsync until the followers stored the log, then
	// fail it.
	g.hold.Store(true)
	done := make(chan error, 1)
	go func() {
		_, _, err := l.ApplyWithID("two", add{ID: 2})
		done <- err
	}()
	for _, m := range c.followers(l) {
		waitFor(t, m.ID()+" to store the log", func() bool {
			n, _ := m.logs.LastIndex()
			return n > before
		})
	}
	g.fail.Store(true)
	g.open()
	err = <-done
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
