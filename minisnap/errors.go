// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

import (
	"errors"
	"fmt"
	"github.com/mini-go/mini/internal/corrupt"
)

// Sentinel errors. Every error minisnap returns is prefixed "minisnap:" and
// wraps one of these (or an error from the file system) so errors.Is works.
var (
	// ErrNotFound: the directory holds no snapshot (Restore, RestoreTo).
	ErrNotFound = errors.New("minisnap: no snapshot")
	// ErrCorrupt: a snapshot failed verification. The error is a
	// *CorruptError naming the file. It matches every package's
	// ErrCorrupt in this module (ministore, miniqueue, miniraft), and they
	// match it.
	ErrCorrupt error = corrupt.New("minisnap: corrupt snapshot")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("minisnap: store closed")
	// ErrOutOfOrder: Create was given a sequence number below the newest
	// snapshot's.
	ErrOutOfOrder = errors.New("minisnap: sequence number below newest snapshot")
	// ErrCodec: a snapshot was written with a codec this Store does not
	// have (see Options.Codec).
	ErrCodec = errors.New("minisnap: unknown codec")
	// ErrLocked: another Store, in this process or another, has the
	// directory open for writing.
	ErrLocked = errors.New("minisnap: directory locked by another process")
	// ErrReadOnly: Create on a Store opened with Options.ReadOnly.
	ErrReadOnly = errors.New("minisnap: store is read-only")
	// ErrVersion: an intact snapshot written in a newer format version
	// than this library reads. It is not corruption, so RestoreLatestGood
	// does not fall back over it.
	ErrVersion = errors.New("minisnap: unsupported format version")
)

// CorruptError reports a snapshot file whose bytes do not verify: a
// checksum or size mismatch, a missing file, a metadata file that is
// unreadable or does not match its own checksum, or sequence numbers that
// disagree. It matches ErrCorrupt with errors.Is and
// unwraps to the specific cause.
type CorruptError struct {
	// Path is the damaged file.
	Path string
	// Seq is the sequence number of the snapshot the file belongs to, as
	// given by its directory name (or by snapshot.seq for a legacy snapshot).
	Seq uint64
	// Offset is the byte offset in Path where the damage was detected, or
	// -1 when the damage has no position (e.g. a checksum mismatch).
	Offset int64
	// Err describes the damage.
	Err error
}

func (e *CorruptError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("minisnap: corrupt snapshot file %s at offset %d: %v", e.Path, e.Offset, e.Err)
	}
	return fmt.Sprintf("minisnap: corrupt snapshot file %s: %v", e.Path, e.Err)
}

// Unwrap returns the specific cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return corrupt.Is(target) }

func corruptAt(path string, seq uint64, offset int64, format string, args ...any) *CorruptError {
	return &CorruptError{Path: path, Seq: seq, Offset: offset, Err: fmt.Errorf(format, args...)}
}
