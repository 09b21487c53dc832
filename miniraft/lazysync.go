// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"fmt"

	"github.com/hashicorp/raft"
)

// hashicorp/raft's leader stores a log (StoreLogs, one fsync) before it
// sends it to the followers, which store it (a second fsync) before they
// answer: with one client every Apply waits for two fsyncs one after the
// other. A Manager's LogStore lets the leader's fsync run while the log is
// replicated (the leader writing its log in parallel with the followers,
// Raft dissertation §10.2.1): on the leader, StoreLogs of command logs
// returns once they are written to the operating system, and the store's
// syncer fsyncs them at once. raft then counts the leader in the majority
// that commits a log before the leader's copy is durable, so two other
// rules keep "committed" meaning "on a majority's disks" for everything
// anyone sees:
//
//   - the fsm applies a log only once this node's copy is durable
//     (waitSynced), so the leader applies it, and Apply returns, only after
//     its own fsync, and
//   - the leader tells the followers a commit index no further than its
//     own durable log (clampCommit, in the transport), so a follower
//     applies only what the leader and a majority hold durably.
//
// A follower's StoreLogs, and a leader's of any log that is not a command
// (configurations, barriers, no-ops: raft acts on their commitment itself),
// fsync before returning, as with any LogStore.

// setLazy makes the leader's StoreLogs of command logs return before their
// fsync while state (raft.Raft.State) says Leader (see above). The Manager
// calls it once raft runs, and then honours waitSynced and clampCommit.
func (l *LogStore) setLazy(state func() raft.RaftState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.syncWake != nil {
		return
	}
	l.syncWake, l.syncStop, l.syncEnd = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	l.synced = make(chan struct{})
	l.lazyState.Store(&state)
	go l.syncLoop(l.syncWake, l.syncStop, l.syncEnd)
}

// lazy reports whether logs may be stored before their fsync: the node
// leads, and they are all commands. StoreLogs runs on raft's main
// goroutine, which also sets its state, so a follower never stores lazily.
func (l *LogStore) lazy(logs []*raft.Log) bool {
	state := l.lazyState.Load()
	if state == nil || (*state)() != raft.Leader {
		return false
	}
	for _, lg := range logs {
		if lg.Type != raft.LogCommand {
			return false
		}
	}
	return true
}

// storedLazily records that the logs from to last were written and wait
// for the syncer. Called with mu held.
func (l *LogStore) storedLazily(from uint64) {
	if l.pendFrom == 0 {
		l.pendFrom = from
	}
	if l.newFrom == 0 {
		l.newFrom = from
	}
	select {
	case l.syncWake <- struct{}{}:
	default:
	}
}

// allSynced records that every log written so far is durable. Called with
// mu held.
func (l *LogStore) allSynced() {
	if l.pendFrom != 0 {
		l.pendFrom, l.newFrom = 0, 0
		l.notifySynced()
	}
}

// truncatedLazy forgets the pending logs after seq. Called with mu held.
func (l *LogStore) truncatedLazy(seq uint64) {
	if l.pendFrom > seq {
		l.pendFrom = 0
		l.notifySynced()
	}
	if l.newFrom > seq {
		l.newFrom = 0
	}
}

// notifySynced wakes the waitSynced calls. Called with mu held.
func (l *LogStore) notifySynced() {
	if l.synced != nil {
		close(l.synced)
		l.synced = make(chan struct{})
	}
}

// afterSyncHook, if not nil, runs in the syncer between an fsync and its
// bookkeeping: tests widen that window with it.
var afterSyncHook func()

// syncLoop fsyncs the logs stored lazily, as soon as there are any.
func (l *LogStore) syncLoop(wake, stop <-chan struct{}, end chan<- struct{}) {
	defer close(end)
	for {
		select {
		case <-wake:
		case <-stop:
			return
		}
		l.mu.Lock()
		if l.pendFrom == 0 || l.syncErr != nil {
			l.mu.Unlock()
			continue
		}
		// What is written from now on may miss this fsync: it stays
		// pending, from the first such log.
		l.newFrom = 0
		j := l.j
		// This fsync answers the grouper's wait only if the wait began
		// before it: a signal asked for later is for a log this fsync
		// may miss.
		stored := l.takeStored()
		l.mu.Unlock()
		err := j.Sync()
		if afterSyncHook != nil {
			afterSyncHook()
		}
		l.mu.Lock()
		if err != nil {
			l.syncErr = fmt.Errorf("miniraft: fsync log: %w", err)
		} else {
			l.pendFrom = l.newFrom
		}
		l.notifySynced()
		l.mu.Unlock()
		if stored != nil {
			close(stored)
		}
	}
}

// stopSync stops the syncer. Called by Close with wmu held, before the
// journal closes (which makes everything durable).
func (l *LogStore) stopSync() {
	l.mu.Lock()
	stop, end := l.syncStop, l.syncEnd
	l.syncStop = nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
		<-end
	}
}

// waitSynced waits until the log at index is durable on this node. It
// fails if the fsync that was to make it durable failed: the node must not
// apply it. (It needs no way out on Close: raft stops, and so stops
// calling it, before the Manager closes the LogStore and its syncer.)
func (l *LogStore) waitSynced(index uint64) error {
	for {
		l.mu.RLock()
		pend, err, ch := l.pendFrom, l.syncErr, l.synced
		l.mu.RUnlock()
		switch {
		case pend == 0 || index < pend:
			return nil
		case err != nil:
			return err
		}
		<-ch
	}
}

// clampCommit returns the commit index the leader may tell its
// followers: commit, or less while its own copy of a log at or below it
// is not durable yet.
func (l *LogStore) clampCommit(commit uint64) uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.pendFrom != 0 && commit >= l.pendFrom {
		return l.pendFrom - 1
	}
	return commit
}
