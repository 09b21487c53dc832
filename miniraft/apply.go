package miniraft

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministate"
)

// Apply replicates mut through raft and returns its sequence number, the
// raft index of its log, once a majority of the cluster has it on stable
// storage (committed) and this node has applied it: View sees it here, and
// every node applies it at the same place in the same order.
//
// On a follower Apply returns a *NotLeaderError (matching ErrNotLeader)
// naming the leader, or, with Options.Forward, has the leader apply it and
// returns when this node has applied it too.
//
// A mutation that implements ministate.Validator is validated when its log
// is applied, against the state as it is then, on every node alike: a
// refusal returns an error matching ministate.ErrRefused, and leaves the
// state unchanged everywhere (the log keeps its index).
//
// An error that wraps raft.ErrLeadershipLost means the outcome is unknown:
// the log may still be committed by the next leader, or dropped. Every
// other error means the mutation was not applied.
func (m *Manager[S, M]) Apply(mut M) (seq uint64, err error) {
	return m.submit([]M{mut})
}

// ApplyBatch is Apply for several mutations in one log: they are applied
// together, in order, all or none (a Validator refusing one refuses the
// batch). The sequence number is the log's.
func (m *Manager[S, M]) ApplyBatch(ms ...M) (seq uint64, err error) {
	if len(ms) == 0 {
		return 0, ministate.ErrEmptyBatch
	}
	return m.submit(ms)
}

func (m *Manager[S, M]) submit(ms []M) (uint64, error) {
	if m.isClosed() {
		return 0, ErrClosed
	}
	data, err := m.codec.encode(ms)
	if err != nil {
		return 0, err
	}
	seq, err := m.applyData(data)
	if errors.Is(err, ErrNotLeader) && m.opts.Forward && m.layer != nil {
		resp, ferr := m.forward(forwardRequest{Op: opApply, Data: data})
		if ferr != nil {
			return 0, ferr
		}
		if err := m.fsm.waitApplied(resp.Seq, m.opts.ApplyTimeout, m.closed); err != nil {
			return resp.Seq, err
		}
		return resp.Seq, nil
	}
	return seq, err
}

// applyData appends data to the raft log, on the leader, and waits until
// it is applied.
func (m *Manager[S, M]) applyData(data []byte) (uint64, error) {
	f := m.raft.Apply(data, m.opts.ApplyTimeout)
	if err := f.Error(); err != nil {
		return 0, m.raftError(err)
	}
	switch r := f.Response().(type) {
	case nil:
		return f.Index(), nil
	case error:
		return 0, r
	default:
		return 0, fmt.Errorf("%w: %T", errNotApplied, r)
	}
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
	_, err := m.barrier()
	if errors.Is(err, ErrNotLeader) && m.opts.Forward && m.layer != nil {
		resp, ferr := m.forward(forwardRequest{Op: opRead})
		if ferr != nil {
			return ferr
		}
		err = m.fsm.waitApplied(resp.Seq, m.opts.ApplyTimeout, m.closed)
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
	err := m.changeMembers(req)
	if errors.Is(err, ErrNotLeader) && m.opts.Forward && m.layer != nil {
		_, err = m.forward(req)
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
