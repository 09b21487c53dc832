// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// Options configure a Queue. The zero value, and a nil *Options, give the
// defaults. Open copies the options; it never changes the caller's value.
type Options struct {
	// VisibilityTimeout is how long a received message stays hidden from
	// the other receivers of its consumer: if it is neither acknowledged,
	// nacked nor extended by then, it is delivered again. Default 30s.
	VisibilityTimeout time.Duration

	// MaxDeliveries is how many times one consumer receives a message
	// before the message goes to the dead-letter queue instead of being
	// delivered again. Default 10; a negative value means no limit.
	MaxDeliveries int

	// BackOff lists redelivery delays by attempt: after the n-th delivery
	// of a message is nacked without a delay (Nack(0)) or its visibility
	// timeout runs out, the message is not delivered again for
	// BackOff[n-1] (the last entry for later attempts). A delayed Nack is
	// durable: the delay holds across a restart or a crash. Default none:
	// redelivery at once.
	BackOff []time.Duration

	// DedupWindow is how long the ID of a message pushed with PushWithID is
	// remembered: a PushWithID with the same ID within the window pushes
	// nothing and returns the first message's sequence number, also after a
	// restart or a crash. Messages with an ID stay on disk for the window.
	// Default 2 minutes (as NATS JetStream's Duplicates window).
	DedupWindow time.Duration

	// MaxAge, when positive, bounds how old a message is delivered: one
	// whose push time (or PushAt time, if later) is more than MaxAge ago
	// when a consumer comes to it, for its first delivery or a later one,
	// is discarded for that consumer, as if acknowledged, and counted in
	// ConsumerStats.Discarded. Push records the push time only while
	// MaxAge is set (PushWithID and PushAt always do); messages without
	// one are never discarded. Space comes back as the consumers pass the
	// messages. Default 0: no limit.
	MaxAge time.Duration

	// MaxBytes, when positive, bounds the encoded size of the messages the
	// queue holds: those from the oldest one some consumer has not
	// acknowledged on. A Push that would go beyond it fails with ErrFull,
	// or waits (see BlockWhenFull). Default 0: no bound.
	MaxBytes int64

	// BlockWhenFull makes Push wait for room when MaxBytes is reached,
	// instead of failing with ErrFull. PushContext bounds the wait. Default
	// false.
	BlockWhenFull bool

	// MaxSegmentBytes is the size at which the message journal starts a new
	// segment file. Disk space is given back one whole segment at a time,
	// once every consumer has acknowledged all of it, so smaller segments
	// free space sooner. Default 16 MiB, or MaxBytes/4 when MaxBytes is set
	// and that is smaller (but not below 64 KiB).
	MaxSegmentBytes int64

	// CacheBytes bounds the memory that keeps recently pushed messages, so
	// that consumers keeping up with producers do not read them back from
	// disk. Default 8 MiB; a negative value turns the cache off.
	CacheBytes int64

	// Codec encodes the messages' values (Push) and decodes them (Receive,
	// DeadLetters). Default (nil): ministore.JSONCodec, encoding/json;
	// ministore/jsonv2codec is faster. The journals hold JSON whichever
	// codec wrote them, so a queue written with one reads with the other
	// (see ministore.Codec). The queue's own records (the envelope around
	// a value, the consumers' journal) are written by miniqueue itself.
	Codec ministore.Codec

	// Logger receives warnings, such as a torn journal tail repaired on
	// Open or a message that did not decode. Default slog.Default().
	Logger *slog.Logger

	// FS is the file system every read, write, fsync, create, rename and
	// delete goes through. Default (nil): vfs.OS, the operating system's.
	// Tests pass a vfs.Mem to simulate power loss, or a vfs.Faulty to
	// inject I/O errors.
	FS vfs.FS

	// BackupProgress, when set, is called during a Backup (of the Queue
	// opened with these options, or the package function given them) on
	// the goroutine of that call: done is the bytes written into the copy,
	// total done plus the bytes noted and not yet copied. total grows as
	// each journal's files are noted (the consumer journal, the messages,
	// then the dead-letter queue's); a live copy that starts a journal
	// again takes its bytes off both. When the copy is whole, done equals
	// total. It must be quick and must not call the Queue. Default nil.
	BackupProgress func(done, total int64)

	// Knobs for the tests in this package.
	consSegmentBytes int64 // consumer journal segment size; default 1 MiB
	checkpointBytes  int64 // consumer records between checkpoints; default 256 KiB
}

const (
	defaultVisibility      = 30 * time.Second
	defaultMaxDeliveries   = 10
	defaultDedupWindow     = 2 * time.Minute
	defaultSegmentBytes    = 16 << 20
	minSegmentBytes        = 64 << 10
	defaultCacheBytes      = 8 << 20
	defaultConsSegment     = 1 << 20
	defaultCheckpointBytes = 256 << 10
)

// openArgs checks and cleans the arguments of Open and OpenReadOnly.
func openArgs(dir string, opts *Options) (string, Options, error) {
	if dir == "" {
		return "", Options{}, errors.New("miniqueue: empty directory name")
	}
	o, err := opts.resolved()
	return filepath.Clean(dir), o, err
}

// resolved returns a copy of o with the defaults filled in.
func (o *Options) resolved() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.VisibilityTimeout < 0 || r.MaxBytes < 0 || r.MaxSegmentBytes < 0 || r.DedupWindow < 0 || r.MaxAge < 0 {
		return r, errors.New("miniqueue: negative option")
	}
	for _, d := range r.BackOff {
		if d < 0 {
			return r, errors.New("miniqueue: negative BackOff delay")
		}
	}
	r.BackOff = slices.Clone(r.BackOff)
	r.VisibilityTimeout = cmp.Or(r.VisibilityTimeout, defaultVisibility)
	r.DedupWindow = cmp.Or(r.DedupWindow, defaultDedupWindow)
	r.MaxDeliveries = cmp.Or(r.MaxDeliveries, defaultMaxDeliveries)
	if r.MaxSegmentBytes == 0 {
		r.MaxSegmentBytes = defaultSegmentBytes
		if r.MaxBytes > 0 {
			r.MaxSegmentBytes = min(r.MaxSegmentBytes, max(r.MaxBytes/4, minSegmentBytes))
		}
	}
	switch {
	case r.CacheBytes == 0:
		r.CacheBytes = defaultCacheBytes
	case r.CacheBytes < 0:
		r.CacheBytes = 0
	}
	if _, ok := r.Codec.(ministore.JSONCodec); ok {
		r.Codec = nil // encoding/json, called directly
	}
	r.Logger = cmp.Or(r.Logger, slog.Default())
	r.FS = cmp.Or(r.FS, vfs.OS)
	r.consSegmentBytes = cmp.Or(r.consSegmentBytes, defaultConsSegment)
	r.checkpointBytes = cmp.Or(r.checkpointBytes, defaultCheckpointBytes)
	return r, nil
}

// marshal returns the JSON of a message's value with the codec.
func (o *Options) marshal(v any) ([]byte, error) {
	if o.Codec == nil {
		return json.Marshal(v)
	}
	return o.Codec.Marshal(v)
}

// unmarshal decodes a message's value as json.Unmarshal does (leniently:
// unknown fields are ignored), with the codec.
func (o *Options) unmarshal(data []byte, v any) error {
	if o.Codec == nil {
		return json.Unmarshal(data, v)
	}
	return o.Codec.NewDecoder(false).Decode(data, v)
}
