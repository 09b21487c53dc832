// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministate"
)

// keyBind is the StableStore key under which a node remembers the address
// it listened on, for a restart with port 0.
var keyBind = []byte("miniraft.bind")

// A Manager is a ministate-style state replicated by raft: it holds a
// state of type S in memory on every node of a cluster and changes it only
// through mutations of type M that raft has committed, applied in log
// order on every node alike. It is safe for concurrent use. Create one with
// Open.
type Manager[S any, M ministate.Mutator[S]] struct {
	opts  Options
	dir   string
	addr  string
	codec codec[S, M]
	fsm   *fsm[S, M]
	raft  *raft.Raft
	group *grouper // nil with Options.ApplyGroup < 0

	logs   *LogStore
	stable *StableStore
	snaps  *SnapshotStore
	trans  raft.Transport
	layer  *streamLayer // nil with Options.Transport
	repl   replication  // what the leader learns of its followers (Stats)

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open starts the node whose raft state is kept in the directory dir:
//
//	dir/raft.log        the raft log (LogStore), one JSON line per log
//	dir/stable.log      raft's term and vote (StableStore)
//	dir/snapshots/      snapshots of the state (SnapshotStore)
//
// On first start the state is S's zero value, and the node joins no
// cluster unless Options.Bootstrap is set or a leader adds it (AddVoter).
// Later starts restore the newest snapshot, then catch up from the leader.
func Open[S any, M ministate.Mutator[S]](dir string, opts *Options) (_ *Manager[S, M], err error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	c, err := newCodec[S, M](o.Registry, o.Codec)
	if err != nil {
		return nil, err
	}
	m := &Manager[S, M]{opts: o, dir: filepath.Clean(dir), codec: c, closed: make(chan struct{})}
	defer func() {
		if err != nil {
			m.closeStores()
		}
	}()
	if m.logs, err = OpenLogStore(filepath.Join(m.dir, "raft.log"), &o.Store); err != nil {
		return nil, err
	}
	if m.stable, err = OpenStableStore(filepath.Join(m.dir, "stable.log"), &o.Store); err != nil {
		return nil, err
	}
	if m.snaps, err = OpenSnapshotStore(filepath.Join(m.dir, "snapshots"), &o.Store); err != nil {
		return nil, err
	}
	if err := m.openTransport(); err != nil {
		return nil, err
	}
	m.trans = watchTransport(m.trans, &m.repl, m.logs.clampCommit)
	existing, err := raft.HasExistingState(m.logs, m.stable, m.snaps)
	if err != nil {
		return nil, fmt.Errorf("miniraft: %w", err)
	}
	if !existing && o.Bootstrap {
		conf := raft.Configuration{}
		peers := o.Peers
		if len(peers) == 0 {
			peers = []Peer{{ID: o.ID, Addr: m.addr}}
		}
		for _, p := range peers {
			conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		if err := raft.BootstrapCluster(o.Raft, m.logs, m.stable, m.snaps, m.trans, conf); err != nil {
			return nil, fmt.Errorf("miniraft: bootstrap: %w", err)
		}
	}
	if err := m.checkJoin(); err != nil {
		return nil, err
	}
	m.fsm = newFSM(c, o.Logger)
	m.fsm.synced = m.logs.waitSynced
	if m.raft, err = newRaft(o.Raft, m.fsm, m.logs, m.stable, m.snaps, m.trans); err != nil {
		return nil, fmt.Errorf("miniraft: %w", err)
	}
	m.logs.setLazy(m.raft.State) // see lazysync.go
	if o.ApplyGroup > 0 {
		m.group = newGrouper(m.raft, m.logs.storedSignal, o.ApplyGroup, m.applyError, m.closed)
	}
	if m.layer != nil {
		if o.Forward {
			m.layer.forward = m.serveForward
		}
		m.layer.start()
	}
	return m, nil
}

// checkJoin returns a *GapError if the log does not join the newest
// snapshot: raft would panic on it.
func (m *Manager[S, M]) checkJoin() error {
	first, err := m.logs.FirstIndex()
	if err != nil {
		return err
	}
	last, err := m.logs.LastIndex()
	if err != nil {
		return err
	}
	if last == 0 || first <= 1 {
		return nil
	}
	metas, err := m.snaps.List()
	if err != nil {
		return err
	}
	var snap uint64
	if len(metas) > 0 {
		snap = metas[0].Index
	}
	if snap+1 < first {
		return &GapError{Dir: m.dir, First: first, Snapshot: snap}
	}
	return nil
}

// newRaft is raft.NewRaft, with a panic (raft panics on a log it cannot
// read while it starts, e.g. when an older snapshot than checkJoin saw is
// the one that restores) turned into an error.
func newRaft(conf *raft.Config, fsm raft.FSM, logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore, trans raft.Transport) (r *raft.Raft, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: raft failed to start: %v", ErrLogGap, p)
		}
	}()
	return raft.NewRaft(conf, fsm, logs, stable, snaps, trans)
}

// openTransport listens on Options.Bind (or the address the directory
// remembers, for port 0), or takes Options.Transport.
func (m *Manager[S, M]) openTransport() error {
	o := m.opts
	if o.Transport != nil {
		m.trans = o.Transport
		m.addr = string(o.Transport.LocalAddr())
		return nil
	}
	bind := o.Bind
	prev, _ := m.stable.Get(keyBind)
	if host, port, err := net.SplitHostPort(bind); err == nil && port == "0" && prev != nil {
		if h, _, err := net.SplitHostPort(string(prev)); err == nil && h == host {
			bind = string(prev)
		}
	}
	server, client, err := tlsConfigs(o.TLS)
	if err != nil {
		return err
	}
	layer, err := listen(bind, o.Advertise, o.Dial, server, client)
	if err != nil {
		return err
	}
	if actual := layer.ln.Addr().String(); actual != string(prev) {
		if err := m.stable.Set(keyBind, []byte(actual)); err != nil {
			layer.Close()
			return err
		}
	}
	m.layer = layer
	m.trans = noPipeline{raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  o.Raft.Logger,
	})}
	m.addr = layer.Addr().String()
	return nil
}

// ID returns this node's server ID.
func (m *Manager[S, M]) ID() string { return m.opts.ID }

// Addr returns this node's raft address, which the other nodes dial.
func (m *Manager[S, M]) Addr() string { return m.addr }

// Dir returns the node's directory.
func (m *Manager[S, M]) Dir() string { return m.dir }

// Raft returns the underlying *raft.Raft, for what this package does not
// wrap (stats, observers, leadership transfer, ...). Do not Shutdown it:
// Close the Manager.
func (m *Manager[S, M]) Raft() *raft.Raft { return m.raft }

// Sequence returns the raft index of the last log whose mutations this
// node applied (or of the snapshot it restored): the sequence number that
// Apply returned for it. It grows on every node through the same values.
func (m *Manager[S, M]) Sequence() uint64 { return m.fsm.sequence() }

// View calls fn with the state as this node has applied it, under a read
// lock: fn must not keep the state or anything in it, and must not call
// the Manager. On a follower the state may lag behind the leader's; use
// ViewConsistent to see every mutation acknowledged before the call.
func (m *Manager[S, M]) View(fn func(state *S)) {
	m.fsm.mu.RLock()
	defer m.fsm.mu.RUnlock()
	fn(&m.fsm.state)
}

// Copy returns a deep copy of the state: its Clone if *S is a
// ministate.Cloner, else a JSON round trip.
func (m *Manager[S, M]) Copy() (S, error) {
	m.fsm.mu.RLock()
	defer m.fsm.mu.RUnlock()
	return clone(&m.fsm.state)
}

// IsLeader reports whether this node is the leader.
func (m *Manager[S, M]) IsLeader() bool { return m.raft.State() == raft.Leader }

// Leader returns the leader's server ID and address, or "" if this node
// knows no leader.
func (m *Manager[S, M]) Leader() (id, addr string) {
	a, i := m.raft.LeaderWithID()
	return string(i), string(a)
}

// WaitLeader waits until this node knows a leader, at most timeout, and
// returns it.
func (m *Manager[S, M]) WaitLeader(timeout time.Duration) (id, addr string, err error) {
	deadline := time.Now().Add(timeout)
	for {
		if id, addr = m.Leader(); addr != "" {
			return id, addr, nil
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("%w: no leader after %v", ErrTimeout, timeout)
		}
		select {
		case <-m.closed:
			return "", "", ErrClosed
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// CreateSnapshot makes raft take a snapshot now, and returns the raft
// index it covers. Raft also takes snapshots by itself, by
// Options.Raft.SnapshotThreshold and SnapshotInterval, and then deletes
// the logs before them except the last TrailingLogs.
func (m *Manager[S, M]) CreateSnapshot() (seq uint64, err error) {
	f := m.raft.Snapshot()
	if err := f.Error(); err != nil {
		return 0, m.raftError(err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	rc.Close()
	return meta.Index, nil
}

// Close shuts the node down gracefully: a leader first hands leadership
// to another voter, if there is one, so the cluster does not wait for an
// election timeout; then raft stops, the transport closes, and the stores
// are closed. Calling Close again returns the first call's result.
func (m *Manager[S, M]) Close() error {
	m.closeOnce.Do(func() {
		if m.IsLeader() && m.otherVoters() {
			m.raft.LeadershipTransfer().Error() // best effort
		}
		m.closeErr = m.shutdown()
	})
	return m.closeErr
}

// shutdown stops raft and closes everything, without a leadership
// transfer.
func (m *Manager[S, M]) shutdown() error {
	close(m.closed)
	f := m.raft.Shutdown()
	if m.layer != nil {
		// Close the transport before waiting for raft's goroutines, so
		// that none of them waits for a peer that does not answer.
		if c, ok := m.trans.(raft.WithClose); ok {
			c.Close()
		}
		m.layer.Close()
	}
	err := f.Error()
	if m.layer != nil {
		m.layer.wait()
	}
	if m.group != nil {
		m.group.wait()
	}
	if cerr := m.closeStores(); err == nil {
		err = cerr
	}
	return err
}

func (m *Manager[S, M]) closeStores() error {
	var errs []error
	if m.layer != nil && m.raft == nil { // Open failed after listening
		if c, ok := m.trans.(raft.WithClose); ok {
			c.Close()
		}
		m.layer.Close()
	}
	if m.logs != nil {
		errs = append(errs, m.logs.Close())
	}
	if m.stable != nil {
		errs = append(errs, m.stable.Close())
	}
	if m.snaps != nil {
		errs = append(errs, m.snaps.Close())
	}
	return errors.Join(errs...)
}

func (m *Manager[S, M]) otherVoters() bool {
	f := m.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != m.opts.ID {
			return true
		}
	}
	return false
}

// raftError turns raft's errors into this package's.
func (m *Manager[S, M]) raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		id, addr := m.Leader()
		if id == m.opts.ID {
			id, addr = "", ""
		}
		return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: leadership lost before the log was committed; it may be committed by the next leader or dropped: %w", ErrOutcomeUnknown, err)
	}
	return fmt.Errorf("miniraft: %w", err)
}
