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
		gates[id] = &syncGate{release: make(chan struct{})}
	}
	c := newCluster(t, 3, func(o *Options) {
		g := gates[o.ID]
		f := vfs.NewFaulty(vfs.OS)
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
		o.Store.FS = f
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
