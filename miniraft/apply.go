// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministate"
)

// Apply replicates mut through raft and returns its sequence number, the
// raft index of its log (which concurrent calls may share: see
// Options.ApplyGroup), once a majority of the cluster has it on stable
// storage (committed) and this node has applied it: View sees it here, and
// every node applies it at the same place in the same order.
//
// On a follower Apply returns a *NotLeaderError (matching ErrNotLeader)
// naming the leader, or, with Options.Forward, has the leader apply it and
// returns when this node has applied it too. The whole call takes at most
// about Options.ApplyTimeout.
//
// A mutation that implements ministate.Validator is validated when its log
// is applied, against the state as it is then, on every node alike: a
// refusal returns an error matching ministate.ErrRefused, and leaves the
// state unchanged everywhere (the log keeps its index).
//
// Every error is one of two kinds. An error matching ErrOutcomeUnknown
// means the mutation may have been applied or not, and may still be: the
// connection to the leader broke after the call was sent, leadership was
// lost before the log was committed (it then also matches
// raft.ErrLeadershipLost), the time ran out (ErrTimeout) or the node was
// closed (ErrClosed) while the log was in flight. If seq is not 0 with
// such an error, the log was committed at seq but this node had not
// applied it in time. Retry such a mutation only with ApplyWithID. Every
// other error means the mutation was not applied and never will be:
// ErrNotLeader, ErrForwardOff, ErrTimeout, ErrClosed or ErrFailed without
// ErrOutcomeUnknown, ministate.ErrRefused, and errors about the
// mutation's encoding.
func (m *Manager[S, M]) Apply(mut M) (seq uint64, err error) {
	seq, _, err = m.submit("", []M{mut})
	return seq, err
}

// ApplyBatch is Apply for several mutations in one log: they are applied
// together, in order, all or none (a Validator refusing one refuses the
// batch). The sequence number is the log's.
func (m *Manager[S, M]) ApplyBatch(ms ...M) (seq uint64, err error) {
	if len(ms) == 0 {
		return 0, ministate.ErrEmptyBatch
	}
	seq, _, err = m.submit("", ms)
	return seq, err
}

// ApplyWithID is Apply with a request ID chosen by the caller, unique to
// this mutation (a UUID, or a client ID and a counter), that makes a retry
// safe: the replicated state remembers the IDs of the last
// RequestIDWindow calls applied with one (each call of a group log
// counts), and a call whose ID it holds changes nothing. So a caller whose Apply failed with ErrOutcomeUnknown
// calls ApplyWithID again with the same ID and mutation, on any node,
// until it gets another answer; the mutation is applied at most once,
// and every call returns the first one's result: its sequence number, or
// its refusal (matching the same sentinel, such as ministate.ErrRefused).
// dup reports that an earlier call with this ID decided the result. Every
// node decides alike, in log order; forwarded calls carry the ID.
//
// The ID is valid UTF-8, at most 256 bytes. A retry after the ID has left the window
// (RequestIDWindow later calls with IDs) is applied again.
func (m *Manager[S, M]) ApplyWithID(id string, mut M) (seq uint64, dup bool, err error) {
	if err := checkRequestID(id); err != nil {
		return 0, false, err
	}
	return m.submit(id, []M{mut})
}

// ApplyBatchWithID is ApplyBatch with a request ID, as ApplyWithID.
func (m *Manager[S, M]) ApplyBatchWithID(id string, ms ...M) (seq uint64, dup bool, err error) {
	if len(ms) == 0 {
		return 0, false, ministate.ErrEmptyBatch
	}
	if err := checkRequestID(id); err != nil {
		return 0, false, err
	}
	return m.submit(id, ms)
}

func (m *Manager[S, M]) submit(rid string, ms []M) (uint64, bool, error) {
	if m.isClosed() {
		return 0, false, ErrClosed
	}
	deadline := time.Now().Add(m.opts.ApplyTimeout)
	data, err := m.codec.Encode(ms)
	if err != nil {
		return 0, false, err
	}
	seq, dup, err := m.applyData(data, rid, deadline)
	if errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrOutcomeUnknown) && m.opts.Forward && m.layer != nil {
		resp, ferr := m.forward(forwardRequest{Op: opApply, Data: data, RID: rid}, deadline)
		if ferr != nil {
			return 0, resp.Dup, ferr
		}
		if err := m.fsm.waitApplied(resp.Seq, time.Until(deadline), m.closed); err != nil {
			return resp.Seq, resp.Dup, outcomeUnknown(fmt.Errorf("committed at %d: %w", resp.Seq, err))
		}
		return resp.Seq, resp.Dup, nil
	}
	return seq, dup, err
}

// applyData appends data (with the request ID rid, if not "") to the raft
// log, on the leader, and waits until it is applied, or deadline. With
// grouping on (Options.ApplyGroup) the data shares a log with the calls
// of other Applies that arrive at the same time.
func (m *Manager[S, M]) applyData(data []byte, rid string, deadline time.Time) (seq uint64, dup bool, err error) {
	wait := time.Until(deadline)
	if wait <= 0 {
		return 0, false, fmt.Errorf("%w: no time left to apply", ErrTimeout)
	}
	if m.group == nil {
		return m.applyAlone(data, rid, wait)
	}
	c := &call{data: data, rid: rid, deadline: deadline, done: make(chan struct{})}
	m.group.add(c)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-c.done:
		return c.seq, c.dup, c.err
	case <-timer.C:
		if m.group.withdraw(c) {
			return 0, false, fmt.Errorf("%w: raft took no log within %v", ErrTimeout, m.opts.ApplyTimeout)
		}
		return 0, false, outcomeUnknown(fmt.Errorf("%w: the log was not applied within %v", ErrTimeout, m.opts.ApplyTimeout))
	case <-m.closed:
		if m.group.withdraw(c) {
			return 0, false, ErrClosed
		}
		return 0, false, outcomeUnknown(ErrClosed)
	}
}

// applyAlone is applyData in a log of its own.
func (m *Manager[S, M]) applyAlone(data []byte, rid string, wait time.Duration) (seq uint64, dup bool, err error) {
	ext, err := encodeRequestExt(rid)
	if err != nil {
		return 0, false, err
	}
	f := m.raft.ApplyLog(raft.Log{Data: data, Extensions: ext}, wait)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		return 0, false, outcomeUnknown(fmt.Errorf("%w: the log was not applied within %v", ErrTimeout, m.opts.ApplyTimeout))
	case <-m.closed:
		return 0, false, outcomeUnknown(ErrClosed)
	}
	if err != nil {
		return 0, false, m.applyError(err)
	}
	return callResult(f.Index(), f.Response())
}

// applyError classifies the error of raft's Apply: raft refuses a log
// before appending it with ErrNotLeader, ErrLeadershipTransferInProgress
// or ErrEnqueueTimeout; after any other error it may have been appended,
// and so committed later.
func (m *Manager[S, M]) applyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrEnqueueTimeout):
		return m.raftError(err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return m.raftError(err) // wraps ErrOutcomeUnknown
	}
	return outcomeUnknown(m.raftError(err))
}

// ViewConsistent is View after making sure this node has applied every
// mutation that any node acknowledged before the call (a linearizable
// read). On the leader it appends a barrier to the log and waits for it to
// be applied, which also proves the node is still the leader. On a
// follower it returns a *NotLeaderError, or, with Options.Forward, asks the
// leader for the sequence number after such a barrier and waits until it
// has applied that far.
func (m *Manager[S, M]) ViewConsistent(fn func(state *S)) error {
	if m.isClosed() {
		return ErrClosed
	}
	deadline := time.Now().Add(m.opts.ApplyTimeout)
	_, err := m.barrier()
	if errors.Is(err, ErrNotLeader) && m.opts.Forward && m.layer != nil {
		resp, ferr := m.forward(forwardRequest{Op: opRead}, deadline)
		if ferr != nil {
			return ferr
		}
		err = m.fsm.waitApplied(resp.Seq, time.Until(deadline), m.closed)
	}
	if err != nil {
		return err
	}
	m.View(fn)
	return nil
}

// barrier waits, on the leader, until every log before it is applied, and
// returns the sequence number then.
func (m *Manager[S, M]) barrier() (uint64, error) {
	if err := m.raft.Barrier(m.opts.ApplyTimeout).Error(); err != nil {
		return 0, m.raftError(err)
	}
	return m.fsm.sequence(), nil
}

// AddVoter adds the node id, listening at addr, to the cluster as a voter,
// or updates its address. It must run on the leader (or a follower with
// Options.Forward), and returns once the new configuration is committed.
// The new node then catches up from the leader: by a snapshot, if the logs
// it needs were compacted away.
func (m *Manager[S, M]) AddVoter(id, addr string) error {
	return m.membership(forwardRequest{Op: opAddVoter, ID: id, Addr: addr})
}

// RemoveServer removes the node id from the cluster. It must run on the
// leader (or a follower with Options.Forward). A leader can remove itself:
// it then steps down.
func (m *Manager[S, M]) RemoveServer(id string) error {
	return m.membership(forwardRequest{Op: opRemove, ID: id})
}

func (m *Manager[S, M]) membership(req forwardRequest) error {
	if m.isClosed() {
		return ErrClosed
	}
	deadline := time.Now().Add(m.opts.ApplyTimeout)
	err := m.changeMembers(req)
	if errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrOutcomeUnknown) && m.opts.Forward && m.layer != nil {
		_, err = m.forward(req, deadline)
	}
	return err
}

func (m *Manager[S, M]) changeMembers(req forwardRequest) error {
	var f raft.IndexFuture
	switch req.Op {
	case opAddVoter:
		f = m.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Addr), 0, m.opts.ApplyTimeout)
	case opRemove:
		f = m.raft.RemoveServer(raft.ServerID(req.ID), 0, m.opts.ApplyTimeout)
	default:
		return fmt.Errorf("miniraft: unknown membership change %q", req.Op)
	}
	if err := f.Error(); err != nil {
		return m.raftError(err)
	}
	return nil
}

// Servers returns the cluster's members as this node knows them.
func (m *Manager[S, M]) Servers() ([]Peer, error) {
	f := m.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, m.raftError(err)
	}
	var out []Peer
	for _, s := range f.Configuration().Servers {
		out = append(out, Peer{ID: string(s.ID), Addr: string(s.Address)})
	}
	return out, nil
}

func (m *Manager[S, M]) isClosed() bool {
	select {
	case <-m.closed:
		return true
	default:
		return false
	}
}
