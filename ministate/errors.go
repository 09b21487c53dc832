// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Errors from the journal (ministore) and
// the snapshots (minisnap) are passed on wrapped, so errors.Is also matches
// their sentinels and the underlying I/O errors.
var (
	// ErrClosed is returned by the write calls after Close.
	ErrClosed = errors.New("ministate: closed")
	// ErrFailed means the Manager stopped accepting mutations: a write or
	// fsync of the journal failed (the error also matches
	// ministore.ErrFailed and the I/O error), or a mutation's Apply
	// panicked. The state in memory holds every mutation acknowledged
	// before it. Close and Open again to go on.
	ErrFailed = errors.New("ministate: manager failed")
	// ErrRefused is matched by the error Apply and ApplyBatch return when a
	// Validator refused a mutation. Nothing was logged or applied.
	ErrRefused = errors.New("ministate: mutation refused")
	// ErrGap is matched by a *GapError: the journal does not continue the
	// snapshot the state was restored from.
	ErrGap = errors.New("ministate: journal does not continue the snapshot")
	// ErrUnknownKind is returned by a Registry for a type that was not
	// registered (encoding) or a kind name that was not (decoding).
	ErrUnknownKind = errors.New("ministate: unknown mutation kind")
	// ErrEmptyBatch is returned by ApplyBatch without mutations.
	ErrEmptyBatch = errors.New("ministate: empty batch")
)

// A GapError reports that recovery cannot go on from the snapshot it
// restored: the journal starts after the record that follows the snapshot
// (records were dropped that the snapshot does not cover), or it ends before
// the snapshot (records the snapshot covers are missing, so new records
// would reuse their sequence numbers). It is never the result of a crash of
// this package; it means files were deleted, replaced or damaged, or a
// fallback snapshot was older than the journal's start. It matches ErrGap.
type GapError struct {
	Journal     string // path of the journal
	SnapshotSeq uint64 // sequence number of the restored snapshot
	FirstSeq    uint64 // the journal's first record; 0 if it is empty
	LastSeq     uint64 // the journal's last record; 0 if it is empty
}

func (e *GapError) Error() string {
	if e.LastSeq == 0 {
		return fmt.Sprintf("ministate: journal %s is empty, but the snapshot covers records up to %d", e.Journal, e.SnapshotSeq)
	}
	if e.LastSeq < e.SnapshotSeq {
		return fmt.Sprintf("ministate: journal %s ends at record %d, before the snapshot at %d", e.Journal, e.LastSeq, e.SnapshotSeq)
	}
	missing := fmt.Sprintf("records %d to %d are", e.SnapshotSeq+1, e.FirstSeq-1)
	if e.FirstSeq == e.SnapshotSeq+2 {
		missing = fmt.Sprintf("record %d is", e.SnapshotSeq+1)
	}
	return fmt.Sprintf("ministate: journal %s starts at record %d, but the snapshot covers records only up to %d (%s missing)",
		e.Journal, e.FirstSeq, e.SnapshotSeq, missing)
}

// Is reports whether target is ErrGap.
func (e *GapError) Is(target error) bool { return target == ErrGap }

// A RecordError reports a journal record that recovery could not replay: it
// does not decode as a mutation of the Manager's type (for example a kind
// the Registry does not know), or its Apply panicked.
type RecordError struct {
	Journal string // path of the journal
	Seq     uint64 // the record's sequence number
	Err     error  // what went wrong
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("ministate: journal %s, record %d: %v", e.Journal, e.Seq, e.Err)
}

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }
