// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministore"
)

// A Manager holds a state of type S in memory and changes it only through
// mutations of type M that are durable in its journal first. It is safe for
// concurrent use. Create one with Open.
//
// Lock order (a lock is only taken while holding locks to its left):
//
//	snapMu → applyMu → mu
//	qmu → mu (shared, to copy the state for validation)
//
// w is a leaf: it is taken under qmu, snapMu or applyMu, and released
// before anything else is taken (applyReadyLocked drops it to take applyMu,
// complete drops it around the journal's Sync). qmu is never held together
// with snapMu or applyMu: a writer leaves qmu before it waits to apply, and
// lead releases it while the journal appends. The journal's and the
// snapshot store's own locks come after all of these (Compact calls
// TruncateFront under snapMu), and the Registry's lock is a leaf taken by
// the codec.
type Manager[S any, M Mutator[S]] struct {
	dir     string
	journal string
	opts    Options
	sink    *backup.Sink // the Backup in progress, for the journal's reports
	codec   codec[S, M]
	log     *ministore.Store[jsonline.Borrowed]
	snaps   *minisnap.Store
	policy  bool // SnapshotEvery or SnapshotBytes is set

	// qmu guards q, which orders the writers' records, appends them to
	// the journal and validates them (see writeQueue). It comes before
	// m.w and m.mu in the lock order (see Manager).
	qmu sync.Mutex
	q   writeQueue[S, M]

	// applyMu is held by whoever applies records to state, and by a
	// snapshot capture: it holds writers off, not readers.
	applyMu sync.Mutex

	// mu guards state: shared for readers, exclusive only while applying.
	mu    sync.RWMutex
	state S

	// seq is the sequence number of the last record applied to state.
	seq atomic.Uint64

	// w is the writers' bookkeeping.
	w struct {
		sync.Mutex
		cond       sync.Cond
		ready      map[uint64]pending[M] // logged records waiting to be applied
		durable    uint64                // records up to here are known fsync'd
		registered uint64                // highest sequence number in ready so far
		syncing    bool                  // a writer is in log.Sync
		inflight   int                   // writers between begin and done
		err        error                 // the failure that stopped the Manager
		closing    bool
		records    uint64 // records applied since the last snapshot capture
		bytes      int64  // their payload bytes
	}

	// snapMu serializes snapshot writes and compactions, so snapshots are
	// written in the order of their sequence numbers.
	snapMu sync.Mutex
	closed bool // set by Close, under snapMu
	// snapNext is 1 + the sequence number of the newest snapshot known to
	// be durable, or 0 if there is none. Written under snapMu.
	snapNext atomic.Uint64

	stats counters // see Stats
}

// pending is a logged record that is not applied yet.
type pending[M any] struct {
	ms   []M
	size int
}

// Open opens the state kept in the directory dir, with its journal in the file
// journalFile inside it, creating both if they do not exist. On first run
// the state is S's zero value; later runs recover it from the newest
// snapshot in dir and the journal records after it.
//
// Open takes the journal's lock (journalFile + ".lock"): a second Manager
// on the same directory, in this or another process, fails with
// ministore.ErrLocked until Close.
//
// Recovery fails with a *GapError (ErrGap) if the journal does not continue
// the snapshot, with a *RecordError if a record does not decode into M, or
// its decoding or its Apply panics, with an error if decoding the snapshot
// panics, and with ministore's or minisnap's error for damaged files. A damaged newest snapshot is passed over for an older one when the
// journal still holds the records after it (a warning is logged).
func Open[S any, M Mutator[S]](dir, journalFile string, opts *Options) (*Manager[S, M], error) {
	start := time.Now()
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	if dir == "" || journalFile == "" {
		return nil, errors.New("ministate: empty directory or journal name")
	}
	c, err := newCodec[S, M](o.Registry, o.JournalCodec)
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	journal := filepath.Join(dir, journalFile)
	// The journal first: its lock keeps a second Manager out before
	// minisnap removes leftovers of an unfinished snapshot in dir.
	sink := new(backup.Sink)
	log, err := ministore.Open[jsonline.Borrowed](journal, &ministore.Options{
		Sync:            ministore.SyncNever, // Apply calls Sync itself; see complete
		Format:          o.JournalFormat,
		MaxSegmentBytes: o.MaxSegmentBytes,
		Logger:          o.Logger,
		FS:              o.FS,
		Schema:          o.journalSchema(),
		Codec:           o.JournalCodec,
		BackupProgress:  sink.Progress(o.BackupProgress),
	})
	if se := (*ministore.SchemaError)(nil); errors.As(err, &se) {
		return nil, fmt.Errorf("ministate: %s holds %s; this Manager has %s: %w",
			se.Path, describeSchema(se.Holds), describeSchema(se.Wanted), err)
	}
	if err != nil {
		return nil, err
	}
	snaps, err := minisnap.Open(dir, &minisnap.Options{Keep: o.KeepSnapshots, Codec: o.SnapshotCodec, FS: o.FS})
	if err != nil {
		log.Close()
		return nil, err
	}
	// A session that failed (or crashed) after a rename but before the
	// fsync of its directory (a journal compaction, a published snapshot)
	// leaves a directory entry that only the page cache holds. Make it
	// durable before a new record or a compaction can depend on it.
	for _, d := range slices.Compact([]string{dir, filepath.Dir(journal)}) {
		if err := o.FS.SyncDir(d); err != nil {
			log.Close()
			snaps.Close()
			return nil, fmt.Errorf("ministate: sync %s: %w", d, err)
		}
	}
	m := &Manager[S, M]{
		sink:    sink,
		dir:     dir,
		journal: journal,
		opts:    o,
		codec:   c,
		log:     log,
		snaps:   snaps,
		policy:  o.SnapshotEvery > 0 || o.SnapshotBytes > 0,
	}
	m.w.cond.L = &m.w.Mutex
	m.w.ready = make(map[uint64]pending[M])
	if err := m.recover(); err != nil {
		log.Close()
		snaps.Close()
		return nil, err
	}
	m.q.next = log.NextSeq()
	m.q.appended = m.q.next - 1
	m.q.done, m.q.turn = make(chan struct{}), make(chan struct{})
	m.stats.recovery = time.Since(start)
	return m, nil
}

// Sequence returns the sequence number of the last record applied to the
// state: 0 for a new state, then 1, 2, 3, ... (a batch is one record). It
// never blocks.
func (m *Manager[S, M]) Sequence() uint64 { return m.seq.Load() }

// JournalPath returns the path of the journal's active file.
func (m *Manager[S, M]) JournalPath() string { return m.journal }

// Dir returns the directory holding the journal and the snapshots.
func (m *Manager[S, M]) Dir() string { return m.dir }

// StateDir returns the directory holding the journal and the snapshots.
//
// Deprecated: use [Manager.Dir], the name the other packages use.
func (m *Manager[S, M]) StateDir() string { return m.dir }

// SnapshotSeq returns the sequence number of the newest snapshot known to
// be durable (restored by Open or written since), and false if there is
// none. It never blocks.
func (m *Manager[S, M]) SnapshotSeq() (seq uint64, ok bool) {
	n := m.snapNext.Load()
	return n - 1, n > 0
}

// View calls fn with the current state, under a read lock: readers run in
// parallel with each other and with the logging of new mutations, and are
// held off only while a batch of logged mutations is applied. fn must not
// modify the state, keep it or anything in it after it returns, or call the
// Manager's write methods. View works after Close too.
func (m *Manager[S, M]) View(fn func(state *S)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	fn(&m.state)
}

// Copy returns a deep copy of the current state, which the caller may keep
// and change. If *S implements Cloner[S], Copy calls Clone under the read
// lock; otherwise it encodes the state to JSON under the read lock and
// decodes the copy after releasing it, so the copy holds what a snapshot
// holds: the exported fields.
func (m *Manager[S, M]) Copy() (S, error) {
	m.mu.RLock()
	if c, ok := any(&m.state).(Cloner[S]); ok {
		defer m.mu.RUnlock()
		return c.Clone(), nil
	}
	b, err := json.Marshal(&m.state)
	m.mu.RUnlock()
	var s S
	if err != nil {
		return s, fmt.Errorf("ministate: copy state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("ministate: copy state: %w", err)
	}
	return s, nil
}

// Close waits for the mutations in flight and a snapshot or compaction in
// progress, then closes the journal (making everything durable) and the
// snapshot store. Later writes return ErrClosed; View, Copy and Sequence
// still work. Calling Close again returns nil.
func (m *Manager[S, M]) Close() error {
	m.w.Lock()
	if m.w.closing {
		m.w.Unlock()
		return nil
	}
	m.w.closing = true
	for m.w.inflight > 0 {
		m.w.cond.Wait()
	}
	m.w.Unlock()
	m.dropSpec()

	m.snapMu.Lock()
	m.closed = true
	m.snapMu.Unlock()
	err := m.log.Close()
	if serr := m.snaps.Close(); err == nil {
		err = serr
	}
	return err
}
