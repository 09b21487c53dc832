// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

var (
	_ raft.LogStore          = (*LogStore)(nil)
	_ raft.MonotonicLogStore = (*LogStore)(nil)
)

// A LogStore is a raft.LogStore kept in a ministore journal: the log with
// raft index i is the journal's record with sequence number i. It is safe
// for concurrent use. Create one with OpenLogStore.
type LogStore struct {
	path string
	opts ministore.Options
	fs   vfs.FS

	// wmu serializes the writers (StoreLogs, DeleteRange, Close): raft
	// stores logs from its main loop and compacts from its snapshot loop.
	wmu sync.Mutex

	// mu guards the fields below; readers hold it only to look them up.
	mu     sync.RWMutex
	j      *ministore.Store[jsonline.Trusted]
	first  uint64     // first log index; 0 when the log is empty
	last   uint64     // last log index; 0 when the log is empty
	ring   []raft.Log // recently stored logs, at index % len(ring); Index 0 is empty
	closed bool
	stored chan struct{} // the grouper's wait: see storedSignal

	// The leader's lazy fsync (lazysync.go): lazyState is set by a
	// Manager (raft's State); the fields after it are guarded by mu.
	lazyState atomic.Pointer[func() raft.RaftState]
	pendFrom  uint64        // first log written and not known durable; 0: none
	newFrom   uint64        // first log written since the syncer's fsync began; 0: none
	syncErr   error         // the syncer's fsync failed
	synced    chan struct{} // closed and replaced when pendFrom or syncErr change
	syncWake  chan struct{} // capacity 1: logs wait for the syncer
	syncStop  chan struct{}
	syncEnd   chan struct{}
}

// OpenLogStore opens the log kept in the journal at path (a file name;
// ministore adds segment files beside it), creating it if needed. It takes
// the journal's lock: a second OpenLogStore of the same path fails with an
// error matching ministore.ErrLocked until Close.
func OpenLogStore(path string, opts *StoreOptions) (*LogStore, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	l := &LogStore{
		path: filepath.Clean(path),
		// StoreLogs fsyncs itself (or, on a Manager's leader, its syncer).
		opts: ministore.Options{MaxSegmentBytes: o.MaxSegmentBytes, Logger: o.Logger, FS: o.FS, Schema: "miniraft.log", Sync: ministore.SyncNever},
		fs:   o.FS,
	}
	if o.CacheLogs > 0 {
		l.ring = make([]raft.Log, o.CacheLogs)
	}
	if l.j, err = ministore.Open[jsonline.Trusted](l.path, &l.opts); err != nil {
		return nil, fmt.Errorf("miniraft: open log: %w", err)
	}
	err = migrateFront(l.path, l.opts, l.j)
	if err == nil {
		err = l.recover()
	}
	if err != nil {
		l.j.Close()
		return nil, err
	}
	return l, nil
}

// recover finds the first and last log: the journal's records without
// holes at either end. (Journals written before the front bound can hold
// hole records, indexes without a log, and a crash could leave them at
// either end.)
func (l *LogStore) recover() error {
	first, last := l.j.FirstSeq(), l.j.LastSeq()
	if last == 0 {
		return nil
	}
	realFirst, err := l.scanReal(first, last, +1)
	if err != nil {
		return err
	}
	if realFirst == 0 {
		// Only holes: empty the journal.
		if err := l.j.TruncateFront(last + 1); err != nil {
			return fmt.Errorf("miniraft: recover log: %w", err)
		}
		return nil
	}
	if realFirst > first {
		if err := l.j.TruncateFront(realFirst); err != nil {
			return fmt.Errorf("miniraft: recover log: %w", err)
		}
	}
	realLast, err := l.scanReal(last, realFirst, -1)
	if err != nil {
		return err
	}
	if realLast < last {
		if err := l.j.TruncateBack(realLast); err != nil {
			return fmt.Errorf("miniraft: recover log: %w", err)
		}
	}
	l.first, l.last = realFirst, realLast
	return nil
}

// scanReal returns the first sequence number from from towards to (step
// +1 or -1) whose record is a log and not a hole, or 0 if there is none.
// It checks that the records it reads hold the logs their numbers say.
func (l *LogStore) scanReal(from, to uint64, step int) (uint64, error) {
	for seq := from; ; seq += uint64(step) {
		p, err := l.j.Get(seq)
		if err != nil {
			return 0, fmt.Errorf("miniraft: recover log: %w", err)
		}
		var lg raft.Log
		ok, err := decodeLog(seq, p, &lg)
		if err != nil {
			return 0, err
		}
		if ok {
			return seq, nil
		}
		if seq == to {
			return 0, nil
		}
	}
}

// Path returns the path of the journal.
func (l *LogStore) Path() string { return l.path }

// FirstIndex returns the index of the first log, or 0 if there is none.
func (l *LogStore) FirstIndex() (uint64, error) {
	first, _, err := l.ends()
	return first, err
}

// LastIndex returns the index of the last log, or 0 if there is none.
func (l *LogStore) LastIndex() (uint64, error) {
	_, last, err := l.ends()
	return last, err
}

// ends returns the indexes of the first and last logs, or ErrClosed.
func (l *LogStore) ends() (first, last uint64, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, ErrClosed
	}
	return l.first, l.last, nil
}

// GetLog reads the log at index into out. It returns raft.ErrLogNotFound
// if the store holds no log at index.
func (l *LogStore) GetLog(index uint64, out *raft.Log) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	if l.last == 0 || index < l.first || index > l.last {
		l.mu.RUnlock()
		return raft.ErrLogNotFound
	}
	if len(l.ring) > 0 {
		if c := &l.ring[index%uint64(len(l.ring))]; c.Index == index {
			*out = *c
			l.mu.RUnlock()
			return nil
		}
	}
	j := l.j
	l.mu.RUnlock()
	p, err := j.Get(index)
	if errors.Is(err, ministore.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if errors.Is(err, ministore.ErrClosed) {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("miniraft: get log %d: %w", index, err)
	}
	ok, err := decodeLog(index, p, out)
	if err != nil {
		return err
	}
	if !ok {
		return raft.ErrLogNotFound
	}
	return nil
}

// StoreLog stores one log; see StoreLogs.
func (l *LogStore) StoreLog(log *raft.Log) error { return l.StoreLogs([]*raft.Log{log}) }

// StoreLogs stores logs with one write and one fsync: they are durable when
// it returns nil. (A crash during the call can keep a prefix of them.)
//
// The indexes must follow each other, and must not be 0. A first index at
// or below the last stored one replaces the logs from there on (as after
// raft's DeleteRange of a conflicting suffix). A gap, in the call or after
// the last log, is ErrNotContiguous: raft never leaves one, since the store
// is a raft.MonotonicLogStore. An empty store starts at the first index
// given.
func (l *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	lazy := l.lazy(logs)
	if !lazy {
		// A lazy store signals when its syncer is done, as the
		// grouper waits until raft can store the next log.
		l.mu.Lock()
		stored := l.takeStored()
		l.mu.Unlock()
		if stored != nil {
			defer close(stored)
		}
	}
	// Every log is encoded into one buffer; the records are slices of it.
	size := 0
	for i, lg := range logs {
		if lg.Index == 0 {
			return fmt.Errorf("%w: index 0 is not a raft log index", ErrNotContiguous)
		}
		if i > 0 {
			if prev := logs[i-1].Index; lg.Index != prev+1 {
				return fmt.Errorf("%w: index %d after %d in one StoreLogs", ErrNotContiguous, lg.Index, prev)
			}
		}
		size += 64 + len(lg.Data)*4/3 + len(lg.Extensions)*4/3
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(logs))
	for i, lg := range logs {
		buf = appendLog(buf, lg)
		ends[i] = len(buf)
	}
	recs := make([]jsonline.Trusted, len(logs))
	for i := range logs {
		from := 0
		if i > 0 {
			from = ends[i-1]
		}
		recs[i] = buf[from:ends[i]:ends[i]]
	}

	l.wmu.Lock()
	defer l.wmu.Unlock()
	first, last, err := l.ends()
	if err != nil {
		return err
	}
	start := logs[0].Index
	switch {
	case last == 0:
		if err := l.align(start); err != nil {
			return err
		}
	case start <= first:
		// Replace everything.
		if err := l.deleteAll(); err != nil {
			return err
		}
		if err := l.align(start); err != nil {
			return err
		}
	case start <= last:
		if err := l.truncate(start-1, true); err != nil {
			return err
		}
	case start > last+1:
		return fmt.Errorf("%w: index %d after %d leaves a gap", ErrNotContiguous, start, last)
	}
	firstSeq, lastSeq, err := l.j.AppendBatch(recs...)
	if err != nil {
		return fmt.Errorf("miniraft: store logs: %w", err)
	}
	if firstSeq != start {
		// Cannot happen unless the journal was changed behind our back.
		return fmt.Errorf("%w: log %d stored as record %d", ErrCorrupt, start, firstSeq)
	}
	if !lazy {
		if err := l.j.Sync(); err != nil {
			return fmt.Errorf("miniraft: store logs: %w", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lazy {
		l.storedLazily(start)
	} else {
		l.allSynced()
	}
	if l.first == 0 {
		l.first = logs[0].Index
	}
	l.last = lastSeq
	if n := uint64(len(l.ring)); n > 0 {
		for _, lg := range logs {
			l.ring[lg.Index%n] = *lg
		}
	}
	return nil
}

// storedSignal returns a channel that is closed when a StoreLogs call
// that begins after this one returns, or, for logs stored lazily, when an
// fsync that begins after it is done: the Manager's grouper gathers calls
// until raft has stored the log it sent. A StoreLogs or fsync already
// under way does not close it (it may not hold that log).
func (l *LogStore) storedSignal() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stored == nil {
		l.stored = make(chan struct{})
	}
	return l.stored
}

// takeStored detaches the signal asked for so far, for the caller to close
// when its StoreLogs or fsync is done. Called with mu held.
func (l *LogStore) takeStored() chan struct{} {
	c := l.stored
	l.stored = nil
	return c
}

// align makes the empty journal give sequence number seq next: its front
// bound moves past the end, or it starts again at seq. Called with wmu
// held.
func (l *LogStore) align(seq uint64) error {
	var err error
	switch next := l.j.NextSeq(); {
	case seq > next:
		err = l.j.TruncateFront(seq)
	case seq < next:
		err = l.j.TruncateBack(seq - 1)
	}
	if err != nil {
		return fmt.Errorf("miniraft: align log at %d: %w", seq, err)
	}
	return nil
}

// DeleteRange deletes the logs from min to max, both included. Only a
// prefix (compaction behind a snapshot) or a suffix (a conflict) of the log
// can be deleted, or all of it; a range strictly inside the log fails with
// ErrNotContiguous. Indexes outside the log are ignored.
func (l *LogStore) DeleteRange(minIndex, maxIndex uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	first, last, err := l.ends()
	if err != nil {
		return err
	}
	if last == 0 || minIndex > maxIndex || maxIndex < first || minIndex > last {
		return nil
	}
	lo, hi := max(minIndex, first), min(maxIndex, last)
	switch {
	case lo == first && hi == last:
		return l.deleteAll()
	case lo == first:
		return l.truncate(hi+1, false)
	case hi == last:
		return l.truncate(lo-1, true)
	}
	return fmt.Errorf("%w: DeleteRange(%d, %d) inside the log %d..%d would leave a gap", ErrNotContiguous, minIndex, maxIndex, first, last)
}

// deleteAll empties the log: the journal's front bound moves past its end.
// Called with wmu held.
func (l *LogStore) deleteAll() error {
	if err := l.j.TruncateFront(l.j.NextSeq()); err != nil {
		return fmt.Errorf("miniraft: delete logs: %w", err)
	}
	l.mu.Lock()
	l.first, l.last = 0, 0
	l.truncatedLazy(0)
	l.mu.Unlock()
	return nil
}

// truncate drops the logs before seq (front) or after it (back), and
// the holes (of an older journal) next to them: it moves the journal's
// front bound, which removes the segment files wholly below it, or cuts
// its end. Called with wmu held; seq is inside the log.
func (l *LogStore) truncate(seq uint64, back bool) error {
	l.mu.RLock()
	to, step, cut, what := l.last, +1, l.j.TruncateFront, "before"
	if back {
		to, step, cut, what = l.first, -1, l.j.TruncateBack, "after"
	}
	l.mu.RUnlock()
	real, err := l.scanReal(seq, to, step)
	if err != nil {
		return err
	}
	if err := cut(real); err != nil {
		return fmt.Errorf("miniraft: delete logs %s %d: %w", what, seq, err)
	}
	l.mu.Lock()
	if back {
		l.last = real
		l.truncatedLazy(real)
	} else {
		l.first = real
	}
	l.mu.Unlock()
	return nil
}

// IsMonotonic reports true: raft then deletes all logs before it installs
// a snapshot, instead of leaving a gap after them (raft.MonotonicLogStore).
func (l *LogStore) IsMonotonic() bool { return true }

// Close closes the journal. Calling Close again returns nil; every other
// call on a closed LogStore returns ErrClosed.
func (l *LogStore) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.stopSync()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.ring = nil
	j := l.j
	l.mu.Unlock()
	err := j.Close() // makes everything durable
	l.mu.Lock()
	if err == nil {
		l.allSynced()
	} else if l.syncErr == nil {
		l.syncErr = fmt.Errorf("miniraft: close log: %w", err)
		l.notifySynced()
	}
	l.mu.Unlock()
	return err
}
