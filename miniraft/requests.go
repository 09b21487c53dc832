// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// RequestIDWindow is how many request IDs (ApplyWithID, ApplyBatchWithID)
// the replicated state remembers: the most recent ones, in log order. A
// retry whose ID has left the window is applied again. It is a constant,
// not an option, because every node must decide alike which logs are
// duplicates.
const RequestIDWindow = 10_000

// maxRequestIDLen bounds the length of a request ID.
const maxRequestIDLen = 256

// requestExt is the Extensions of a log applied with a request ID:
// {"rid":"..."}.
type requestExt struct {
	RID string `json:"rid"`
}

func encodeRequestExt(id string) ([]byte, error) {
	if id == "" {
		return nil, nil
	}
	return json.Marshal(requestExt{RID: id})
}

func checkRequestID(id string) error {
	switch {
	case id == "":
		return errors.New("miniraft: empty request ID")
	case len(id) > maxRequestIDLen:
		return fmt.Errorf("miniraft: request ID of %d bytes (at most %d)", len(id), maxRequestIDLen)
	case !utf8.ValidString(id):
		return errors.New("miniraft: request ID is not valid UTF-8")
	}
	return nil
}

// A requestRecord is the first result of the log applied with a request
// ID: its index and, if it was not applied, the error's code and text.
// Snapshots hold them, oldest first.
type requestRecord struct {
	ID   string `json:"id"`
	Seq  uint64 `json:"seq"`
	Code string `json:"code,omitempty"`
	Msg  string `json:"msg,omitempty"`
}

// result returns the first result as Apply returned it: nil, or an error
// matching the same sentinel (ministate.ErrRefused, ErrFailed).
func (r *requestRecord) result() error {
	if r.Code == "" {
		return nil
	}
	return &remoteError{code: r.Code, msg: r.Msg}
}

// requests is the window of request IDs of an fsm, in log order. Its
// methods are called with the fsm's lock held.
type requests struct {
	byID  map[string]*requestRecord
	order []*requestRecord // oldest first; a ring of RequestIDWindow
	head  int              // index of the oldest in order, once it is full
}

func (q *requests) get(id string) *requestRecord {
	return q.byID[id]
}

// add records the first result of id, dropping the oldest ID beyond the
// window.
func (q *requests) add(r *requestRecord) {
	if q.byID == nil {
		q.byID = map[string]*requestRecord{}
	}
	if len(q.order) < RequestIDWindow {
		q.order = append(q.order, r)
	} else {
		delete(q.byID, q.order[q.head].ID)
		q.order[q.head] = r
		q.head = (q.head + 1) % RequestIDWindow
	}
	q.byID[r.ID] = r
}

// list returns the records, oldest first.
func (q *requests) list() []requestRecord {
	out := make([]requestRecord, 0, len(q.order))
	for i := range q.order {
		out = append(out, *q.order[(q.head+i)%len(q.order)])
	}
	return out
}

// reset replaces the window by the records of a snapshot, oldest first
// (a repeated ID, which no snapshot of this package holds, keeps its first
// record).
func (q *requests) reset(rs []requestRecord) {
	*q = requests{}
	for i := range rs {
		if q.get(rs[i].ID) == nil {
			q.add(&rs[i])
		}
	}
}

// A dupResult is what the fsm returns for a log whose request ID it has
// seen: the first log's index and result. The log changes nothing.
type dupResult struct {
	seq uint64
	err error
}
