// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"sync"
	"time"
)

// The outcomes of an operation, as its client saw it.
const (
	// StatusOK: the node acknowledged the operation.
	StatusOK = "ok"
	// StatusFailed: the node answered with an error; Op.Class says what
	// the library's documentation makes of it.
	StatusFailed = "failed"
	// StatusTimeout: the request was sent and no answer came in time
	// (the node died, paused, or is still waiting): outcome unknown.
	StatusTimeout = "timeout"
	// StatusNotSent: the client could not connect, so the node never saw
	// the request. Such operations are not part of the history.
	StatusNotSent = "notSent"
)

// An Op is one client operation: an append of Val to Key, or a read of
// Key that returned Vals.
type Op struct {
	Phase  string
	Client int
	Node   string
	Kind   string // "append" or "read"
	Key    string
	Val    string   // append
	Vals   []string // read, when Status is StatusOK
	Status string
	Class  string // StatusFailed: ClassUnknown or ClassNotApplied
	Err    string
	Seq    uint64
	// Tries is the number of requests sent for the operation: more than
	// one when an append of unknown outcome was retried with its request
	// ID (Config.RetryUnknown). Dup: the answer came from an earlier try.
	Tries  int
	Dup    bool
	Call   time.Duration // since the history's start
	Return time.Duration
}

// A History records the operations of concurrent clients, with the
// instants they were called and returned on one monotonic clock.
// It is safe for concurrent use.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewHistory starts a history now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the time since the history's start.
func (h *History) Now() time.Duration { return time.Since(h.start) }

// Add records a finished operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// Ops returns a copy of the operations recorded so far, in the order they
// returned.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}
