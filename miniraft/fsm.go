// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

var _ raft.FSM = (*fsm[struct{}, ministate.Mutator[struct{}]])(nil)

// fsm is the raft.FSM of a Manager: the state, changed only by the
// mutations of committed logs, in index order, on every node alike.
type fsm[S any, M ministate.Mutator[S]] struct {
	codec codec[S, M]
	dec   ministore.Decoder // codec's, used with mu held
	log   *slog.Logger

	mu     sync.RWMutex // held shared by readers, exclusively to apply
	state  S
	seq    uint64        // index of the last log applied, or of the snapshot restored
	failed error         // set by a panic in Apply
	change chan struct{} // closed and replaced whenever seq grows
	reqs   requests      // the last RequestIDWindow request IDs and their first results

	// synced, if not nil, waits until this node's copy of the log at
	// index is durable (LogStore.waitSynced): no log is applied before.
	synced func(index uint64) error
}

func newFSM[S any, M ministate.Mutator[S]](c codec[S, M], log *slog.Logger) *fsm[S, M] {
	return &fsm[S, M]{codec: c, dec: c.NewDecoder(), log: log, change: make(chan struct{})}
}

// Apply applies the mutations of one committed log. It returns nil, or
// the error that refused them: a Validator's (wrapped in
// ministate.ErrRefused), or one for data that does not decode. Refusal is
// decided by the state alone, so every node refuses the same logs.
//
// A log with a request ID that the window holds changes nothing and
// returns a dupResult with the first log's index and result; a new one is
// added to the window with its result. The logs are applied in the same
// order on every node, so every node decides alike.
func (f *fsm[S, M]) Apply(l *raft.Log) any {
	if f.synced != nil {
		if err := f.synced(l.Index); err != nil {
			return f.notDurable(l.Index, err)
		}
	}
	rid, n, rids, extErr := parseExt(l.Extensions)
	if n > 0 {
		return f.applyGroup(l, n, rids)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if extErr != nil {
		f.advanceLocked(l.Index)
		return fmt.Errorf("%w: log %d: %w", ministate.ErrRefused, l.Index, extErr)
	}
	if rid != "" {
		if first := f.reqs.get(rid); first != nil {
			f.advanceLocked(l.Index)
			return dupResult{seq: first.Seq, err: first.result()}
		}
	}
	err := f.applyRecord(l.Data, l.Index)
	f.advanceLocked(l.Index)
	if rid != "" {
		f.remember(rid, l.Index, err)
	}
	return err
}

// notDurable stops the fsm at the log at index, which this node could not
// make durable: it is not applied, and neither is any later log. The
// other nodes may hold the log durably, and a majority of them commit and
// apply it under another leader: the error matches ErrOutcomeUnknown too.
func (f *fsm[S, M]) notDurable(index uint64, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed == nil {
		f.failed = outcomeUnknown(fmt.Errorf("%w: log %d is not durable on this node: %w", ErrFailed, index, err))
		f.log.Error("miniraft: log not durable; the state no longer follows the log", "index", index, "error", err)
	}
	f.advanceLocked(index)
	return f.failed
}

// A groupResult is the fsm's result for a group log: one result per call,
// in order, each what Apply returns for a log of its own.
type groupResult []any

// applyGroup applies the n calls of a group log (see group.go) in order,
// each as Apply applies a log of its own at the same index: a call whose
// request ID the window holds changes nothing, a call whose record does
// not decode is refused alone. Data that does not split into n records
// refuses every call, on every node alike.
func (f *fsm[S, M]) applyGroup(l *raft.Log, n int, rids []string) groupResult {
	recs, splitErr := splitGroup(l.Data, n)
	res := make(groupResult, n)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		var rid string
		if rids != nil {
			rid = rids[i]
		}
		if rid != "" {
			if first := f.reqs.get(rid); first != nil {
				res[i] = dupResult{seq: first.Seq, err: first.result()}
				continue
			}
		}
		var err error
		if splitErr != nil {
			err = fmt.Errorf("%w: log %d: %w", ministate.ErrRefused, l.Index, splitErr)
		} else {
			err = f.applyRecord(recs[i], l.Index)
		}
		if rid != "" {
			f.remember(rid, l.Index, err)
		}
		if err != nil {
			res[i] = err
		}
	}
	f.advanceLocked(l.Index)
	return res
}

// remember adds the request ID rid of the log at index, with its result,
// to the window.
func (f *fsm[S, M]) remember(rid string, index uint64, err error) {
	rec := &requestRecord{ID: rid, Seq: index}
	if err != nil {
		rec.Code, rec.Msg = codeOf(err), err.Error()
	}
	f.reqs.add(rec)
}

// applyRecord applies the mutations of one record of the log at index.
func (f *fsm[S, M]) applyRecord(p []byte, index uint64) error {
	ms, err := f.codec.DecodeWith(f.dec, p, nil)
	switch {
	case err != nil:
		f.log.Warn("miniraft: log does not decode as a mutation; skipped", "index", index, "error", err)
		return fmt.Errorf("%w: log %d: %w", ministate.ErrRefused, index, err)
	case f.failed != nil:
		return f.failed
	}
	return f.applyLocked(ms, index)
}

// applyLocked validates and applies ms. A panic stops the fsm.
func (f *fsm[S, M]) applyLocked(ms []M, index uint64) (err error) {
	defer func() {
		if p := recover(); p != nil {
			f.failed = fmt.Errorf("%w: mutation of log %d panicked: %v", ErrFailed, index, p)
			f.log.Error("miniraft: mutation panicked; the state no longer follows the log", "index", index, "panic", p)
			err = f.failed
		}
	}()
	if !validates(ms) {
		for _, m := range ms {
			m.Apply(&f.state)
		}
		return nil
	}
	if len(ms) == 1 {
		if v, ok := any(ms[0]).(ministate.Validator[S]); ok {
			if err := v.Validate(&f.state); err != nil {
				return fmt.Errorf("%w: %w", ministate.ErrRefused, err)
			}
		}
		ms[0].Apply(&f.state)
		return nil
	}
	// A batch with validators: all or nothing, on a scratch copy.
	scratch, err := clone(&f.state)
	if err != nil {
		return fmt.Errorf("%w: copy the state to validate a batch: %w", ministate.ErrRefused, err)
	}
	for i, m := range ms {
		if v, ok := any(m).(ministate.Validator[S]); ok {
			if err := v.Validate(&scratch); err != nil {
				return fmt.Errorf("%w: batch element %d: %w", ministate.ErrRefused, i, err)
			}
		}
		m.Apply(&scratch)
	}
	f.state = scratch
	return nil
}

func validates[S any, M ministate.Mutator[S]](ms []M) bool {
	for _, m := range ms {
		if _, ok := any(m).(ministate.Validator[S]); ok {
			return true
		}
	}
	return false
}

// clone deep-copies a state: with its Clone method if it is a Cloner, else
// by a JSON round trip.
func clone[S any](s *S) (S, error) {
	if c, ok := any(s).(ministate.Cloner[S]); ok {
		return c.Clone(), nil
	}
	var out S
	b, err := json.Marshal(s)
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(b, &out)
	return out, err
}

// advanceLocked records that the logs up to index are applied.
func (f *fsm[S, M]) advanceLocked(index uint64) {
	f.seq = index
	close(f.change)
	f.change = make(chan struct{})
}

// sequence returns the index of the last log applied.
func (f *fsm[S, M]) sequence() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.seq
}

// waitApplied waits until the logs up to index are applied, or timeout.
func (f *fsm[S, M]) waitApplied(index uint64, timeout time.Duration, closed <-chan struct{}) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.RLock()
		seq, ch := f.seq, f.change
		f.mu.RUnlock()
		if seq >= index {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("%w: waiting for log %d to be applied here (applied: %d)", ErrTimeout, index, seq)
		case <-closed:
			return ErrClosed
		}
	}
}

// snapshotData is what a Manager's snapshot holds:
//
//	{"seq":120,"state":{...the state as JSON...},"requests":[{"id":"a1","seq":97},...]}
//
// requests, the window of request IDs oldest first, is left out when empty
// (and is absent from snapshots made before it existed).
type snapshotData[S any] struct {
	Seq      uint64          `json:"seq"`
	State    *S              `json:"state"`
	Requests []requestRecord `json:"requests,omitempty"`
}

// Snapshot captures the state: a Clone if the state is a Cloner, else its
// JSON, so that Persist can write it while Apply goes on.
func (f *fsm[S, M]) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.failed != nil {
		return nil, f.failed
	}
	snap := &fsmSnapshot{seq: f.seq}
	reqs := f.reqs.list()
	if c, ok := any(&f.state).(ministate.Cloner[S]); ok {
		st := c.Clone()
		snap.encode = func(w io.Writer) error {
			return json.NewEncoder(w).Encode(snapshotData[S]{Seq: snap.seq, State: &st, Requests: reqs})
		}
		return snap, nil
	}
	b, err := json.Marshal(snapshotData[S]{Seq: f.seq, State: &f.state, Requests: reqs})
	if err != nil {
		return nil, fmt.Errorf("miniraft: encode state: %w", err)
	}
	snap.encode = func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}
	return snap, nil
}

type fsmSnapshot struct {
	seq    uint64
	encode func(io.Writer) error
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	bw := bufio.NewWriterSize(sink, 64<<10)
	err := s.encode(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// Restore replaces the state by a snapshot's. It reads the snapshot to its
// end (so the store verifies its checksum) before it changes anything.
func (f *fsm[S, M]) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var st S
	data := snapshotData[S]{State: &st}
	dec := json.NewDecoder(rc)
	if err := dec.Decode(&data); err != nil {
		return fmt.Errorf("miniraft: decode snapshot: %w", err)
	}
	if _, err := io.Copy(io.Discard, io.MultiReader(dec.Buffered(), rc)); err != nil {
		return fmt.Errorf("miniraft: read snapshot: %w", err)
	}
	f.mu.Lock()
	f.state = st
	f.reqs.reset(data.Requests)
	f.advanceLocked(data.Seq)
	f.mu.Unlock()
	return nil
}

// errNotApplied is returned for the response of a log that raft applied
// without the fsm (it cannot happen for command logs).
var errNotApplied = errors.New("miniraft: unexpected response from the state machine")
