// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// hashicorp/raft keeps each follower's match index (the last log the
// leader knows the follower holds) to itself. replication learns it where
// it passes: the leader's AppendEntries calls through the transport. A
// successful AppendEntries that carries entries, or follows a log
// (PrevLogEntry), proves the follower holds the log up to
// PrevLogEntry+len(Entries); any response proves it was heard from.
type replication struct {
	mu        sync.Mutex
	term      uint64 // the term of the leader the figures belong to
	followers map[raft.ServerID]*followerSeen
}

type followerSeen struct {
	match   uint64
	contact time.Time
}

// seen records the answer to an AppendEntries sent to id.
func (r *replication) seen(id raft.ServerID, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if args.Term != r.term || r.followers == nil {
		// A new leadership: what an older one learned does not hold.
		r.term, r.followers = args.Term, map[raft.ServerID]*followerSeen{}
	}
	f := r.followers[id]
	if f == nil {
		f = &followerSeen{}
		r.followers[id] = f
	}
	f.contact = now
	if resp.Success && (args.PrevLogEntry > 0 || len(args.Entries) > 0) {
		f.match = args.PrevLogEntry + uint64(len(args.Entries))
	}
}

// follower returns what is known of id in term: false if nothing.
func (r *replication) follower(term uint64, id raft.ServerID) (followerSeen, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.term != term {
		return followerSeen{}, false
	}
	f := r.followers[id]
	if f == nil {
		return followerSeen{}, false
	}
	return *f, true
}

// watchTransport returns t with its AppendEntries calls (pipelined or
// not) reported to rep, and, with clamp not nil, the commit index they
// carry changed by clamp (see LogStore.clampCommit). It keeps the optional
// interfaces raft looks for: pre-vote (WithPreVote) when t has it, and
// Close (WithClose).
func watchTransport(t raft.Transport, rep *replication, clamp func(uint64) uint64) raft.Transport {
	w := &watchedTransport{Transport: t, rep: rep, clamp: clamp}
	if _, ok := t.(raft.WithPreVote); ok {
		return &watchedPreVote{w}
	}
	return w
}

type watchedTransport struct {
	raft.Transport
	rep   *replication
	clamp func(uint64) uint64 // or nil
}

func (w *watchedTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if w.clamp != nil {
		args.LeaderCommitIndex = w.clamp(args.LeaderCommitIndex)
	}
	err := w.Transport.AppendEntries(id, target, args, resp)
	if err == nil {
		w.rep.seen(id, args, resp)
	}
	return err
}

func (w *watchedTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := w.Transport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	wp := &watchedPipeline{AppendPipeline: p, id: id, rep: w.rep, clamp: w.clamp, out: make(chan raft.AppendFuture, 128), stop: make(chan struct{})}
	go wp.relay()
	return wp, nil
}

// Close closes the transport underneath if it can be closed.
func (w *watchedTransport) Close() error {
	if c, ok := w.Transport.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

type watchedPreVote struct{ *watchedTransport }

func (w *watchedPreVote) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return w.Transport.(raft.WithPreVote).RequestPreVote(id, target, args, resp)
}

// watchedPipeline passes the pipeline's answers on to raft, reporting each.
type watchedPipeline struct {
	raft.AppendPipeline
	id       raft.ServerID
	rep      *replication
	clamp    func(uint64) uint64 // or nil
	out      chan raft.AppendFuture
	stop     chan struct{}
	stopOnce sync.Once
}

func (p *watchedPipeline) relay() {
	in := p.AppendPipeline.Consumer()
	for {
		select {
		case f, ok := <-in:
			if !ok {
				close(p.out)
				return
			}
			if f.Error() == nil {
				p.rep.seen(p.id, f.Request(), f.Response())
			}
			select {
			case p.out <- f:
			case <-p.stop:
				return
			}
		case <-p.stop:
			return
		}
	}
}

func (p *watchedPipeline) AppendEntries(args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	if p.clamp != nil {
		args.LeaderCommitIndex = p.clamp(args.LeaderCommitIndex)
	}
	return p.AppendPipeline.AppendEntries(args, resp)
}

func (p *watchedPipeline) Consumer() <-chan raft.AppendFuture { return p.out }

func (p *watchedPipeline) Close() error {
	p.stopOnce.Do(func() { close(p.stop) })
	return p.AppendPipeline.Close()
}
