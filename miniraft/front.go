// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"fmt"

	"github.com/mini-go/mini/ministore"
)

// frontCompactAt is the number of records at which a front journal is cut
// back to its last record.
const frontCompactAt = 64

// frontSegmentBytes is the segment size of a front journal, which holds a
// few tiny records: it also bounds the space ministore preallocates.
const frontSegmentBytes = 16 << 10

// A front is the durable lower bound of a LogStore's log: every log below
// it is deleted, whether or not its record is still in the log's journal.
//
// Deleting the front of the log after a snapshot appends the new bound to
// the front's own small journal (one fsync) and then removes only the log
// journal's segment files that lie wholly below it. Rewriting the segment
// that holds the cut, as ministore's TruncateFront does, would copy every
// record after the cut in that file on each compaction. The records left
// below the bound go when their segment does.
//
// The journal is PATH.first beside the log's journal PATH; each record is
// {"first":N}, and the last one counts. Without records there is no bound.
// Its methods are called with the LogStore's wmu held.
type front struct {
	j     *ministore.Store[frontRecord]
	first uint64 // 0: no bound
}

type frontRecord struct {
	First uint64 `json:"first"`
}

// openFront opens (or creates) the front journal at path and reads the
// bound from its last record.
func openFront(path string, opts ministore.Options) (*front, error) {
	opts.MaxSegmentBytes = frontSegmentBytes
	opts.Schema = "miniraft.front"
	j, err := ministore.Open[frontRecord](path, &opts)
	if err != nil {
		return nil, fmt.Errorf("miniraft: open log front: %w", err)
	}
	f := &front{j: j}
	if last := j.LastSeq(); last != 0 {
		r, err := j.Get(last)
		if err != nil {
			j.Close()
			return nil, fmt.Errorf("miniraft: open log front: %w", err)
		}
		f.first = r.First
	}
	return f, nil
}

// set makes first the bound, durably.
func (f *front) set(first uint64) error {
	seq, err := f.j.Append(frontRecord{First: first})
	if err != nil {
		return fmt.Errorf("miniraft: set log front to %d: %w", first, err)
	}
	f.first = first
	if seq-f.j.FirstSeq()+1 >= frontCompactAt {
		// Only the last record counts: drop the ones before it.
		if err := f.j.TruncateFront(seq); err != nil {
			return fmt.Errorf("miniraft: compact log front: %w", err)
		}
	}
	return nil
}

func (f *front) close() error { return f.j.Close() }
