// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"
)

// Checkpoints and truncation.
//
// The consumer journal grows with every delivery and ack. Once it has grown
// by checkpointBytes since the last checkpoint, the whole consumer state is
// appended as one checkpoint record, and the journal is cut at it: the
// records before it are all reflected in the checkpoint. The same
// checkpoint is what allows deleting messages: every consumer's floor in it
// is durable, so the message journal is cut at the lowest floor.
//
// A cut is ministore's TruncateFront, which moves the journal's front bound
// and deletes the segment files wholly below it: it copies nothing, so the
// journals are cut exactly there. A journal is cut at most at its last
// record, so it never becomes empty.

// maybeCheckpoint writes a checkpoint if the consumer journal grew enough
// or a message segment can be freed. It runs in the goroutine of the call
// that crossed the threshold, after that call's own record is durable;
// calls that cross it meanwhile go on without waiting.
func (e *engine) maybeCheckpoint() {
	needCP := e.sinceCP.Load() >= e.opts.checkpointBytes ||
		(e.dedupOn.Load() && e.pushedSinceCP.Load() >= dedupCheckpointBytes(e.opts))
	needList := e.pushedSinceList.Load() >= e.opts.MaxSegmentBytes/4
	if !needCP && !needList && !e.canFreeMessages() {
		return
	}
	if !e.cpRun.TryLock() {
		return
	}
	defer e.cpRun.Unlock()
	if needList {
		e.refreshMsgBases()
	}
	if !needCP && !e.canFreeMessages() {
		return
	}
	if err := e.checkpointLocked(); err != nil && !errors.Is(err, ErrClosed) {
		e.log.Warn("miniqueue: checkpoint failed", "dir", e.dir, "err", err)
	}
}

// canFreeMessages reports whether every consumer is past a sealed message
// segment.
func (e *engine) canFreeMessages() bool {
	freeAt := e.freeAt.Load()
	if freeAt == 0 {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	mf, ok := e.minFloorLocked()
	if !ok {
		mf = e.base
	}
	return !e.closed && mf >= freeAt
}

// refreshMsgBases lists the sealed message segments and notes from which
// floor on one of them can go.
func (e *engine) refreshMsgBases() {
	e.pushedSinceList.Store(0)
	bases := segmentBases(e.msgs)
	first, last := e.msgs.FirstSeq(), e.msgs.LastSeq()
	var freeAt uint64
	for _, b := range bases {
		if b > first && b <= last {
			freeAt = b
			break
		}
	}
	e.freeAt.Store(freeAt)
}

// checkpointLocked writes a checkpoint and truncates both journals behind
// it. The caller holds cpRun.
func (e *engine) checkpointLocked() error {
	e.cpMu.Lock()
	e.mu.Lock()
	names := slices.Sorted(maps.Keys(e.consumers))
	snap := make([]cpConsumer, 0, len(names))
	for _, n := range names {
		snap = append(snap, e.consumers[n].snapshot())
	}
	minFloor, haveConsumers := e.minFloorLocked()
	if !haveConsumers {
		minFloor = e.base
	}
	base, last := e.base, e.cache.published
	e.removed.dropBelow(minFloor) // consumers to come start at or above it
	removed := e.removed.spans()
	var dedup uint64
	if e.dedup.on {
		e.dedup.expire(time.Now().UnixMilli(), e.opts.DedupWindow)
		dedup = e.dedup.mark(e.cache.published)
		minFloor = min(minFloor, dedup) // Open reads the messages from there
	}
	e.mu.Unlock()
	seq, err := e.cons.Append(json.RawMessage(checkpointRecord(base, dedup, last, snap, removed)))
	if err == nil {
		e.sinceCP.Store(0)
		e.pushedSinceCP.Store(0)
	}
	e.cpMu.Unlock()
	if err != nil {
		return e.ioErr("checkpoint", err)
	}

	// The checkpoint is durable: drop the consumer records before it and
	// the messages every consumer has resolved.
	if err := e.truncate(e.cons, e.consPath, seq); err != nil {
		return err
	}
	if err := e.truncate(e.msgs, e.msgPath, minFloor); err != nil {
		return err
	}
	e.refreshMsgBases()
	return nil
}

// truncate drops the records of a journal before limit, or before its last
// record if limit is past it.
func (e *engine) truncate(s interface {
	FirstSeq() uint64
	LastSeq() uint64
	TruncateFront(uint64) error
}, path string, limit uint64) error {
	if t := min(limit, s.LastSeq()); t > s.FirstSeq() {
		if err := s.TruncateFront(t); err != nil {
			return e.ioErr("truncate "+path, err)
		}
	}
	return nil
}
