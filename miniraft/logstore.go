// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/vfs"
	"github.com/mini-go/mini/ministore"
)

var (
	_ raft.LogStore          = (*LogStore)(nil)
	_ raft.MonotonicLogStore = (*LogStore)(nil)
)

// maxHoles is the largest gap StoreLogs fills with holes.
const maxHoles = 1 << 16

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
	next   uint64     // sequence number the journal gives next; 0 if unknown
	ring   []raft.Log // recently stored logs, at index % len(ring); Index 0 is empty
	closed bool
	stored chan struct{} // closed and replaced when a StoreLogs call returns

	// front is the durable bound below which every log is deleted; only
	// the writers (wmu) use it.
	front *front
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
		opts: ministore.Options{MaxSegmentBytes: o.MaxSegmentBytes, Logger: o.Logger, FS: o.FS, Schema: "miniraft.log"},
		fs:   o.FS,
	}
	if o.CacheLogs > 0 {
		l.ring = make([]raft.Log, o.CacheLogs)
	}
	existed, err := vfs.Exists(l.fs, l.path)
	if err != nil {
		return nil, fmt.Errorf("miniraft: open log %s: %w", path, err)
	}
	if l.j, err = ministore.Open[jsonline.Trusted](l.path, &l.opts); err != nil {
		return nil, fmt.Errorf("miniraft: open log: %w", err)
	}
	if !existed {
		l.next = 1
	}
	if l.front, err = openFront(l.path+".first", l.opts); err != nil {
		l.j.Close()
		return nil, err
	}
	if err := l.recover(); err != nil {
		l.front.close()
		l.j.Close()
		return nil, err
	}
	return l, nil
}

// recover finds the first and last log: the journal's records from the
// front on, without holes at either end. (A crash can leave holes: StoreLogs
// writes holes and logs in one batch, and DeleteRange from the front sets
// the bound past the holes after the cut.) An empty log gets an empty
// journal, so that the next StoreLogs may start anywhere.
func (l *LogStore) recover() error {
	jFirst, last := l.j.FirstSeq(), l.j.LastSeq()
	if last == 0 {
		return nil
	}
	l.next = last + 1
	var realFirst uint64
	if first := max(jFirst, l.front.first); first <= last {
		var err error
		if realFirst, err = l.scanReal(first, last, +1); err != nil {
			return err
		}
	}
	if realFirst == 0 {
		// Only holes, or only records below the front: empty the journal.
		if err := l.j.TruncateBack(jFirst - 1); err != nil {
			return fmt.Errorf("miniraft: recover log: %w", err)
		}
		l.next = jFirst
		return nil
	}
	realLast, err := l.scanReal(last, realFirst, -1)
	if err != nil {
		return err
	}
	if realLast < last {
		if err := l.j.TruncateBack(realLast); err != nil {
			return fmt.Errorf("miniraft: recover log: %w", err)
		}
		l.next = realLast + 1
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
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.first, nil
}

// LastIndex returns the index of the last log, or 0 if there is none.
func (l *LogStore) LastIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.last, nil
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
		// Either Close, or restart replaced the journal of an emptied log.
		l.mu.RLock()
		closed := l.closed
		l.mu.RUnlock()
		if closed {
			return ErrClosed
		}
		return raft.ErrLogNotFound
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
// The indexes must increase, and must not be 0. A first index at or below
// the last stored one replaces the logs from there on (as after raft's
// DeleteRange of a conflicting suffix). A first index beyond the next one
// leaves a gap: the missing indexes are stored as holes, which GetLog
// reports as raft.ErrLogNotFound (gaps of up to 65536; raft itself never
// leaves one, since the store is a raft.MonotonicLogStore). An empty store
// starts at the first index given.
func (l *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	defer l.signalStored()
	// Every log is encoded into one buffer; the records are slices of it.
	size, holes := 0, 0
	for i, lg := range logs {
		if lg.Index == 0 {
			return fmt.Errorf("%w: index 0 is not a raft log index", ErrNotContiguous)
		}
		if i > 0 {
			prev := logs[i-1].Index
			if lg.Index <= prev {
				return fmt.Errorf("%w: index %d after %d in one StoreLogs", ErrNotContiguous, lg.Index, prev)
			}
			if lg.Index-prev-1 > maxHoles {
				return fmt.Errorf("%w: gap of %d between %d and %d", ErrNotContiguous, lg.Index-prev-1, prev, lg.Index)
			}
			holes += int(lg.Index - prev - 1)
		}
		size += 64 + len(lg.Data)*4/3 + len(lg.Extensions)*4/3
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(logs))
	for i, lg := range logs {
		buf = appendLog(buf, lg)
		ends[i] = len(buf)
	}
	recs := make([]jsonline.Trusted, 0, len(logs)+holes)
	for i, lg := range logs {
		from := 0
		if i > 0 {
			from = ends[i-1]
			for range lg.Index - logs[i-1].Index - 1 {
				recs = append(recs, holeRecord)
			}
		}
		recs = append(recs, buf[from:ends[i]:ends[i]])
	}

	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.RLock()
	closed, first, last := l.closed, l.first, l.last
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	start := logs[0].Index
	switch {
	case last == 0:
		if err := l.startAt(start); err != nil {
			return err
		}
	case start <= first:
		// Replace everything.
		if err := l.deleteAll(); err != nil {
			return err
		}
		if err := l.startAt(start); err != nil {
			return err
		}
	case start <= last:
		if err := l.truncateBack(start - 1); err != nil {
			return err
		}
	case start > last+1:
		if start-last-1 > maxHoles {
			return fmt.Errorf("%w: index %d after %d leaves a gap of %d", ErrNotContiguous, start, last, start-last-1)
		}
		holes := make([]jsonline.Trusted, start-last-1, int(start-last-1)+len(recs))
		for i := range holes {
			holes[i] = holeRecord
		}
		recs = append(holes, recs...)
		start = last + 1
	}
	firstSeq, lastSeq, err := l.j.AppendBatch(recs...)
	if err != nil {
		return fmt.Errorf("miniraft: store logs: %w", err)
	}
	if firstSeq != start {
		// Cannot happen unless the journal was changed behind our back.
		return fmt.Errorf("%w: log %d stored as record %d", ErrCorrupt, start, firstSeq)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.first == 0 {
		l.first = logs[0].Index
	}
	l.last = lastSeq
	l.next = lastSeq + 1
	if n := uint64(len(l.ring)); n > 0 {
		for seq := firstSeq; seq <= lastSeq; seq++ {
			// Holes clear their slot, so it never shows an older log.
			l.ring[seq%n] = raft.Log{}
		}
		for _, lg := range logs {
			l.ring[lg.Index%n] = *lg
		}
	}
	return nil
}

// storedSignal returns a channel that is closed when a StoreLogs call
// returns: the Manager's grouper gathers calls until raft has stored the
// log before.
func (l *LogStore) storedSignal() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stored == nil {
		l.stored = make(chan struct{})
	}
	return l.stored
}

func (l *LogStore) signalStored() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stored != nil {
		close(l.stored)
		l.stored = nil
	}
}

// startAt prepares the empty log (whose journal is empty too) to store its
// first log at index seq. Called with wmu held.
func (l *LogStore) startAt(seq uint64) error {
	if l.front.first > seq {
		// The journal is empty, so nothing comes back from below the front.
		if err := l.front.set(seq); err != nil {
			return err
		}
	}
	return l.align(seq)
}

// align makes the empty journal give sequence number seq next. Called with
// wmu held.
func (l *LogStore) align(seq uint64) error {
	switch {
	case l.next == seq:
		return nil
	case l.next != 0 && seq > l.next:
		if err := l.j.TruncateFront(seq); err != nil {
			return fmt.Errorf("miniraft: align log at %d: %w", seq, err)
		}
	default:
		// The journal cannot number backwards, and after opening an empty
		// journal its next number is not known: start a new one.
		if err := l.restart(); err != nil {
			return err
		}
		if seq > 1 {
			if err := l.j.TruncateFront(seq); err != nil {
				return fmt.Errorf("miniraft: align log at %d: %w", seq, err)
			}
		}
	}
	l.mu.Lock()
	l.next = seq
	l.mu.Unlock()
	return nil
}

// restart replaces the empty journal by a new one that starts at 1. An
// empty journal is a single file (ministore seals only files that hold
// records), so removing it is one step: a crash leaves either the old
// empty journal or none, both empty. Called with wmu held.
func (l *LogStore) restart() error {
	if l.j.LastSeq() != 0 {
		return fmt.Errorf("miniraft: restart a log that is not empty")
	}
	dir, base := filepath.Split(l.path)
	names, err := l.fs.ReadDir(filepath.Clean(dir))
	if err != nil {
		return fmt.Errorf("miniraft: restart log: %w", err)
	}
	for _, name := range names {
		if rest, ok := strings.CutPrefix(name, base+"."); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return fmt.Errorf("miniraft: restart log: unexpected segment %s in an empty journal", name)
		}
	}
	if err := l.j.Close(); err != nil {
		return fmt.Errorf("miniraft: restart log: %w", err)
	}
	if err := l.fs.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("miniraft: restart log: %w", err)
	}
	if err := l.fs.SyncDir(filepath.Clean(dir)); err != nil {
		return fmt.Errorf("miniraft: restart log: %w", err)
	}
	j, err := ministore.Open[jsonline.Trusted](l.path, &l.opts)
	if err != nil {
		return fmt.Errorf("miniraft: restart log: %w", err)
	}
	l.mu.Lock()
	l.j, l.next = j, 1
	l.mu.Unlock()
	return nil
}

// DeleteRange deletes the logs from min to max, both included. Only a
// prefix (compaction behind a snapshot) or a suffix (a conflict) of the log
// can be deleted, or all of it; a range strictly inside the log fails with
// ErrNotContiguous. Indexes outside the log are ignored.
func (l *LogStore) DeleteRange(minIndex, maxIndex uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.RLock()
	closed, first, last := l.closed, l.first, l.last
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if last == 0 || minIndex > maxIndex || maxIndex < first || minIndex > last {
		return nil
	}
	lo, hi := max(minIndex, first), min(maxIndex, last)
	switch {
	case lo == first && hi == last:
		return l.deleteAll()
	case lo == first:
		return l.truncateFront(hi + 1)
	case hi == last:
		return l.truncateBack(lo - 1)
	}
	return fmt.Errorf("%w: DeleteRange(%d, %d) inside the log %d..%d would leave a gap", ErrNotContiguous, minIndex, maxIndex, first, last)
}

// deleteAll empties the log; the journal then gives its old first sequence
// number next. Called with wmu held.
func (l *LogStore) deleteAll() error {
	first := l.j.FirstSeq()
	if err := l.j.TruncateBack(first - 1); err != nil {
		return fmt.Errorf("miniraft: delete logs: %w", err)
	}
	l.mu.Lock()
	l.first, l.last, l.next = 0, 0, first
	l.mu.Unlock()
	return nil
}

// truncateFront drops the logs before seq, and the holes after them: it
// moves the front past them, then removes the journal's segment files that
// lie wholly below it. Called with wmu held; seq is inside the log.
func (l *LogStore) truncateFront(seq uint64) error {
	l.mu.RLock()
	last := l.last
	l.mu.RUnlock()
	real, err := l.scanReal(seq, last, +1)
	if err != nil {
		return err
	}
	if err := l.front.set(real); err != nil {
		return err
	}
	l.mu.Lock()
	l.first = real
	l.mu.Unlock()
	// The segment holding the first log starts at the last cheap cut at
	// or below it.
	var cut uint64
	for _, seg := range l.j.Segments() {
		if seg.Records == 0 || seg.FirstSeq > real {
			break
		}
		cut = seg.FirstSeq
	}
	if cut > l.j.FirstSeq() {
		if err := l.j.TruncateFront(cut); err != nil {
			return fmt.Errorf("miniraft: delete logs before %d: %w", real, err)
		}
	}
	return nil
}

// truncateBack drops the logs after seq, and the holes before them. Called
// with wmu held; seq is at or after the first log.
func (l *LogStore) truncateBack(seq uint64) error {
	l.mu.RLock()
	first := l.first
	l.mu.RUnlock()
	real, err := l.scanReal(seq, first, -1)
	if err != nil {
		return err
	}
	if err := l.j.TruncateBack(real); err != nil {
		return fmt.Errorf("miniraft: delete logs after %d: %w", seq, err)
	}
	l.mu.Lock()
	l.last, l.next = real, real+1
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
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.ring = nil
	j := l.j
	l.mu.Unlock()
	err := j.Close()
	if ferr := l.front.close(); err == nil {
		err = ferr
	}
	return err
}
