// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"errors"
	"fmt"
	"github.com/mini-go/mini/internal/corrupt"
)

// Errors returned by this package. Some reach the caller inside a typed
// error (*MessageError, *FullError, *RecordError) that wraps one of them, so
// test them with errors.Is. Errors of the journal underneath (ministore)
// are wrapped too and match its sentinels, such as ministore.ErrCorrupt and
// ministore.ErrFailed.
var (
	// ErrClosed is returned by every call on a closed Queue, and by Ack,
	// Nack and Extend on a message received from it.
	ErrClosed = errors.New("miniqueue: closed")
	// ErrLocked means another Queue, in this process or another, has the
	// directory open.
	ErrLocked = errors.New("miniqueue: queue locked by another process")
	// ErrFull is returned by Push when MaxBytes is reached and
	// BlockWhenFull is not set, or when one message is bigger than MaxBytes.
	ErrFull = errors.New("miniqueue: queue full")
	// ErrAcked is returned by Ack, Nack and Extend on a message that was
	// already acknowledged (by another delivery of it) or dead-lettered.
	ErrAcked = errors.New("miniqueue: message already acknowledged")
	// ErrStale is returned by Nack and Extend on a delivery that is no
	// longer the newest one of its message: its visibility timeout ran out
	// and the message was delivered again.
	ErrStale = errors.New("miniqueue: message delivered again since")
	// ErrDeleted is returned by the calls on a Consumer that was deleted.
	ErrDeleted = errors.New("miniqueue: consumer deleted")
	// ErrCorrupt means a queue record does not decode or contradicts the
	// others, or (wrapped in ministore's errors) that a journal file is
	// damaged. It matches every package's ErrCorrupt in this module, and
	// they match it: test damage with any one of them.
	ErrCorrupt error = corrupt.New("miniqueue: corrupt queue record")
	// ErrNotFound is returned for a dead letter that is not (or no longer)
	// in the dead-letter queue.
	ErrNotFound = errors.New("miniqueue: dead letter not found")
)

// A MessageError is returned by Ack, Nack and Extend when the message cannot
// take the call.
type MessageError struct {
	Consumer string // the consumer's name; "" for the default consumer
	Seq      uint64 // the message
	Attempt  int    // the delivery the call was made on
	Err      error  // ErrAcked, ErrStale, ErrDeleted or ErrClosed
}

func (e *MessageError) Error() string {
	return fmt.Sprintf("%s (consumer %q, message %d, attempt %d)", e.Err, e.Consumer, e.Seq, e.Attempt)
}

// Unwrap returns the reason.
func (e *MessageError) Unwrap() error { return e.Err }

// A FullError is returned by Push when a message does not fit under
// MaxBytes. It matches ErrFull.
type FullError struct {
	Size int64 // encoded size of what was pushed
	Used int64 // bytes the queue holds
	Max  int64 // Options.MaxBytes
}

func (e *FullError) Error() string {
	return fmt.Sprintf("%s: %d bytes do not fit (%d of %d in use)", ErrFull, e.Size, e.Used, e.Max)
}

// Is reports whether target is ErrFull.
func (e *FullError) Is(target error) bool { return target == ErrFull }

// A RecordError reports a queue record that Open cannot use: one that does
// not decode, or one that refers to messages the message journal does not
// hold; or a journal that is missing while the queue's other journal shows
// it existed. It matches ErrCorrupt.
type RecordError struct {
	Journal string // path of the journal's active file
	Seq     uint64 // the record's sequence number in that journal; 0 if none
	Err     error  // what is wrong
}

func (e *RecordError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("%s: %s: %v", ErrCorrupt, e.Journal, e.Err)
	}
	return fmt.Sprintf("%s: %s record %d: %v", ErrCorrupt, e.Journal, e.Seq, e.Err)
}

// Unwrap returns what is wrong.
func (e *RecordError) Unwrap() error { return e.Err }

// Is reports whether target is ErrCorrupt.
func (e *RecordError) Is(target error) bool { return corrupt.Is(target) }
