// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mini-go/mini/internal/corrupt"
	"strings"
)

// Errors returned by this package. Errors about a place in a file are
// *JournalError values that wrap one of these, so test them with errors.Is.
var (
	// ErrClosed is returned by every call on a closed Store.
	ErrClosed = errors.New("ministore: closed")
	// ErrCorrupt means a journal file holds damaged data that is not a torn
	// tail: a bad header, a record whose checksum fails, a line that does not
	// decode, or a sequence number out of order. It matches every
	// package's ErrCorrupt in this module (minisnap, miniqueue, miniraft),
	// and they match it: test damage with any one of them.
	ErrCorrupt error = corrupt.New("ministore: corrupt journal")
	// ErrVersion means a journal was written in a format version this
	// package does not know (by a newer release, or not by ministore).
	ErrVersion = errors.New("ministore: unsupported journal version")
	// ErrLocked means another process (or another Store in this one) has
	// the journal open.
	ErrLocked = errors.New("ministore: journal locked by another process")
	// ErrNotFound is returned by Get for a sequence number outside
	// [FirstSeq, LastSeq].
	ErrNotFound = errors.New("ministore: record not found")
	// ErrTruncated means a reader asked for records from a sequence number
	// below the first record left: TruncateFront deleted them. Records,
	// RecordsWith, Follow and FollowWith return it as a *TruncatedError,
	// which says where the journal now starts; a from of 0 reads from the
	// first record left instead.
	ErrTruncated = errors.New("ministore: records truncated")
	// ErrIsDir is returned by Open when the path names a directory.
	ErrIsDir = errors.New("ministore: path is a directory")
	// ErrNotRegular is returned by Open and every reader when a journal
	// file is a named pipe, a device, a socket, a directory or a symbolic
	// link: it is refused before it is opened, so a pipe does not block
	// and a link does not get a lock of its own.
	ErrNotRegular = errors.New("ministore: not a regular file")
	// ErrFailed wraps the I/O error that stopped a Store: after a failed
	// write or fsync the Store refuses every later write with an error that
	// matches both ErrFailed and the original error. Reopen to recover.
	ErrFailed = errors.New("ministore: store failed")
	// ErrTornTail is what Repair reports for a record cut short at the end of
	// the newest segment. Open and Replay do not fail on it (see TornTail).
	ErrTornTail = errors.New("ministore: torn tail")
	// ErrSchema means the journal records a schema other than
	// Options.Schema (see SchemaError). Open returns it before it changes
	// anything.
	ErrSchema = errors.New("ministore: schema mismatch")
	// ErrDecode means a record is whole and verified but its JSON does not
	// decode into the record type: it was written as another type, or
	// carries a field the type does not have (see
	// Options.AllowUnknownFields). The error is a *DecodeError.
	ErrDecode = errors.New("ministore: record does not decode")
	// ErrInvalidUTF8 is returned by Append and AppendBatch for a record
	// with invalid UTF-8 in a string: encoding/json would store U+FFFD in
	// its place, so it would not read back as written. Nothing is written.
	ErrInvalidUTF8 = errors.New("ministore: invalid UTF-8")
)

// A DecodeError reports a record whose JSON does not decode into the
// record type. Path, Line and Offset say where it is when they could be
// found (Line 0 otherwise).
type DecodeError struct {
	Path   string // the segment file, or the journal's path
	Line   int    // 1-based line number; 0 when not known
	Offset int64  // byte offset of the start of the record's line
	Seq    uint64 // the record's sequence number
	Err    error  // encoding/json's error
}

func (e *DecodeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("ministore: %s:%d (offset %d): decode record %d: %v", e.Path, e.Line, e.Offset, e.Seq, e.Err)
	}
	return fmt.Sprintf("ministore: %s: decode record %d: %v", e.Path, e.Seq, e.Err)
}

// Unwrap returns encoding/json's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Is matches ErrDecode.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// A TruncatedError reports that the records a reader asked for, from From
// on, start below First, the first record left in the journal at Path: the
// ones before First were deleted (TruncateFront). It matches ErrTruncated.
type TruncatedError struct {
	Path  string // the journal
	From  uint64 // the first sequence number asked for
	First uint64 // the first sequence number left
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("ministore: records truncated: %s starts at record %d, not %d (records before %d were deleted)",
		e.Path, e.First, e.From, e.First)
}

// Is matches ErrTruncated.
func (e *TruncatedError) Is(target error) bool { return target == ErrTruncated }

// A JournalError reports a problem at a place in a journal file.
type JournalError struct {
	Path   string // the segment file
	Line   int    // 1-based line number; 0 when not known
	Offset int64  // byte offset of the start of the bad line or header
	Err    error  // what is wrong; matches ErrCorrupt or ErrVersion
}

func (e *JournalError) Error() string {
	msg := e.Err.Error()
	prefix := "ministore: "
	if !strings.HasPrefix(msg, prefix) {
		prefix += "corrupt journal: "
	}
	msg = strings.TrimPrefix(msg, "ministore: ")
	if e.Line > 0 {
		return fmt.Sprintf("%s%s:%d (offset %d): %s", prefix, e.Path, e.Line, e.Offset, msg)
	}
	return fmt.Sprintf("%s%s (offset %d): %s", prefix, e.Path, e.Offset, msg)
}

// Unwrap returns the reason.
func (e *JournalError) Unwrap() error { return e.Err }

// Is reports whether target is ErrCorrupt and the problem is damage (as
// opposed to an unknown version or a torn tail, which match ErrVersion and
// ErrTornTail through Unwrap).
func (e *JournalError) Is(target error) bool {
	return corrupt.Is(target) && !errors.Is(e.Err, ErrVersion) && !errors.Is(e.Err, ErrTornTail)
}

func corruptAt(path string, line int, off int64, reason error) *JournalError {
	return &JournalError{Path: path, Line: line, Offset: off, Err: reason}
}

// TornTail describes the end of a journal that a crash cut short and that
// Open removed. Only records that were never acknowledged can be in it.
type TornTail struct {
	Path   string // the newest segment
	Line   int    // line number of the first removed line
	Offset int64  // where the file now ends
	Bytes  int64  // how many non-zero bytes were removed
	// Saved is the file that now holds the removed bytes (Path+".broken",
	// or with ".2", ".3", ... if that exists); empty when a reader that
	// does not write (Replay, Records) reports it.
	Saved string
}

func (t *TornTail) String() string {
	s := fmt.Sprintf("torn tail in %s at line %d (offset %d): removed %d bytes", t.Path, t.Line, t.Offset, t.Bytes)
	if t.Saved != "" {
		s += ", kept in " + t.Saved
	}
	return s
}

func validJSON(b []byte) bool { return json.Valid(b) }

func sequenceError(got, want uint64) error {
	if got < want {
		return fmt.Errorf("sequence number %d repeats or goes back (want %d)", got, want)
	}
	return fmt.Errorf("sequence number %d skips ahead (want %d)", got, want)
}
