// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministate"
)

// cutter is an Options.Dial that can cut every connection it opened
// since cutNext was called, as a network failure would.
type cutter struct {
	mu    sync.Mutex
	on    bool
	conns []net.Conn
}

func (c *cutter) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.mu.Lock()
		if c.on {
			c.conns = append(c.conns, conn)
		}
		c.mu.Unlock()
	}
	return conn, err
}

func (c *cutter) record() {
	c.mu.Lock()
	c.on = true
	c.mu.Unlock()
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns, c.on = nil, false
}

// startWait sets the gate of Wait mutations; release (idempotent) opens
// it and removes it. It returns the channel that reports entered ones.
func startWait(t *testing.T) (entered <-chan int, release func()) {
	e, r := make(chan int, 16), make(chan struct{})
	waitGate.Lock()
	waitGate.entered, waitGate.release = e, r
	waitGate.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			waitGate.Lock()
			waitGate.entered, waitGate.release = nil, nil
			waitGate.Unlock()
			close(r)
		})
	}
	t.Cleanup(release)
	return e, release
}

// The connection to the leader breaks while a forwarded Apply is running
// there: the follower's error matches ErrOutcomeUnknown, and the mutation
// is in fact applied. A retry with ApplyWithID and the same ID does not
// apply it again: it returns the first log's sequence number, dup.
func TestForwardCutIsOutcomeUnknown(t *testing.T) {
	cuts := map[string]*cutter{}
	c := newCluster(t, 3, func(o *Options) {
		o.Forward = true
		if cuts[o.ID] == nil {
			cuts[o.ID] = &cutter{}
		}
		o.Dial = cuts[o.ID].dial
	})
	leader := c.leader()
	f := c.followers(leader)[0]
	for _, withID := range []bool{false, true} {
		id := 10
		if withID {
			id = 20
		}
		entered, release := startWait(t)
		cuts[f.ID()].record()
		errc := make(chan error, 1)
		go func() {
			var err error
			if withID {
				_, _, err = f.ApplyWithID("req-20", add{ID: id, Wait: true})
			} else {
				_, err = f.Apply(add{ID: id, Wait: true})
			}
			errc <- err
		}()
		// Some node applies it: the call reached the leader and the log is
		// committed. Now the network cuts the follower's connection.
		for got := 0; got != id; {
			select {
			case got = <-entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the mutation was not applied")
			}
		}
		cuts[f.ID()].cut()
		err := <-errc
		if !errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("forwarded apply cut off: %v, want an error matching ErrOutcomeUnknown", err)
		}
		t.Logf("cut: %v", err)
		release()
	}
	// Both were applied, though the error said the outcome was unknown.
	c.convergeTo(nil, 10, 20)
	// The retry with the ID, through the follower and on the leader.
	for _, m := range []*node{f, leader} {
		seq, dup, err := m.ApplyWithID("req-20", add{ID: 20, Wait: true})
		if err != nil || !dup || seq == 0 {
			t.Fatalf("retry on %s: seq %d dup %v err %v, want the first seq, dup", m.ID(), seq, dup, err)
		}
	}
	seq, dup, err := f.ApplyWithID("req-30", add{ID: 30})
	if err != nil || dup {
		t.Fatalf("a new ID: seq %d dup %v err %v", seq, dup, err)
	}
	c.convergeTo(map[int]uint64{30: seq}, 10, 20, 30) // not 20 twice
}

// ApplyWithID: a retry returns the first result, a refusal included, on
// the leader and through a follower; every node holds the mutation once.
func TestApplyWithID(t *testing.T) {
	c := newCluster(t, 3, func(o *Options) { o.Forward = true })
	leader := c.leader()
	f := c.followers(leader)[0]
	seq, dup, err := leader.ApplyWithID("a", add{ID: 1})
	if err != nil || dup {
		t.Fatalf("first: %d %v %v", seq, dup, err)
	}
	for _, m := range []*node{leader, f} {
		s2, dup, err := m.ApplyWithID("a", add{ID: 1})
		if err != nil || !dup || s2 != seq {
			t.Fatalf("retry on %s: %d %v %v, want %d dup", m.ID(), s2, dup, err, seq)
		}
	}
	// A refusal is the first result too, even when a retry would pass.
	if _, _, err := f.ApplyWithID("b", add{ID: 100, Limit: 10}); !errors.Is(err, ministate.ErrRefused) {
		t.Fatalf("refused: %v", err)
	}
	for _, m := range []*node{leader, f} {
		if seq, dup, err := m.ApplyWithID("b", add{ID: 100, Limit: 1000}); !errors.Is(err, ministate.ErrRefused) || !dup || seq != 0 {
			t.Fatalf("retry of a refused one on %s: seq %d dup %v err %v, want 0, dup, ErrRefused", m.ID(), seq, dup, err)
		}
	}
	// A batch with an ID.
	bseq, _, err := f.ApplyBatchWithID("c", add{ID: 2}, add{ID: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s2, dup, err := f.ApplyBatchWithID("c", add{ID: 2}, add{ID: 3}); err != nil || !dup || s2 != bseq {
		t.Fatalf("batch retry: %d %v %v", s2, dup, err)
	}
	for _, bad := range []string{"", string(make([]byte, 257))} {
		if _, _, err := leader.ApplyWithID(bad, add{ID: 9}); err == nil {
			t.Fatalf("ApplyWithID(%q) accepted", bad)
		}
	}
	c.convergeTo(map[int]uint64{1: seq, 2: bseq, 3: bseq}, 1, 2, 3)
	// Every node remembers the same IDs (a snapshot and a restart too).
	leader.CreateSnapshot()
	for id := range c.nodes {
		c.stopHard(id)
	}
	for id := range c.dirs {
		c.start(id, false)
	}
	leader = c.leader()
	if s2, dup, err := leader.ApplyWithID("a", add{ID: 1}); err != nil || !dup || s2 != seq {
		t.Fatalf("retry after a restart: %d %v %v, want %d dup", s2, dup, err, seq)
	}
}

// logWithID is a committed log of add{ID: n} with the request ID rid.
func logWithID(t *testing.T, index uint64, n int, rid string) *raft.Log {
	ext, err := encodeRequestExt(rid)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := newTestCodec(t).Encode([]add{{ID: n}})
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data, Extensions: ext, AppendedAt: time.Unix(0, 0)}
}

// The window holds the last RequestIDWindow IDs, in log order, in
// snapshots too; a snapshot without any (older than request IDs) restores.
func TestRequestWindow(t *testing.T) {
	f := newTestFSM(t)
	var idx uint64
	apply := func(n int, rid string) any {
		idx++
		return f.Apply(logWithID(t, idx, n, rid))
	}
	for i := range RequestIDWindow + 1 {
		if r := apply(i, "id-"+strconv.Itoa(i)); r != nil {
			t.Fatalf("apply %d: %v", i, r)
		}
	}
	// id-0 left the window (applied again, it pushes id-1 out); id-2 is
	// still in it.
	if r := apply(0, "id-0"); r != nil {
		t.Fatalf("id-0 after the window: %v, want applied", r)
	}
	if r, ok := apply(2, "id-2").(dupResult); !ok || r.seq != 3 {
		t.Fatalf("id-2: %v, want dup of 3", r)
	}
	// Through a snapshot.
	g, err := restoredCopy(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := g.Apply(logWithID(t, idx+1, 3, "id-3")).(dupResult); !ok || r.seq != 4 {
		t.Fatalf("id-3 after restore: %v, want dup of 4", r)
	}
	if want := f.reqs.list(); !slices.Equal(want, g.reqs.list()) || len(want) != RequestIDWindow || want[0].ID != "id-2" {
		t.Fatal("the restored window differs")
	}
	// A snapshot made before request IDs existed.
	h := newTestFSM(t)
	if err := h.Restore(readCloser(`{"seq":7,"state":{"ids":[1],"sum":1}}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if h.sequence() != 7 || len(h.reqs.list()) != 0 {
		t.Fatalf("old snapshot: seq %d, %d IDs", h.sequence(), len(h.reqs.list()))
	}
}

// A node whose log was compacted behind a snapshot that is then lost does
// not start: Open returns a *GapError, not a panic.
func TestOpenLogGap(t *testing.T) {
	c := newCluster(t, 1, nil)
	m := c.nodes["n1"]
	for i := range 100 {
		if _, err := m.Apply(add{ID: i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.CreateSnapshot(); err != nil {
		t.Fatal(err)
	}
	first, _ := m.logs.FirstIndex()
	if first <= 1 {
		t.Fatalf("the log was not compacted: first %d", first)
	}
	c.stopHard("n1")
	if err := os.RemoveAll(filepath.Join(c.dirs["n1"], "snapshots")); err != nil {
		t.Fatal(err)
	}
	_, err := Open[ledger, add](c.dirs["n1"], nodeOptions("n1"))
	var gap *GapError
	if !errors.As(err, &gap) || !errors.Is(err, ErrLogGap) || gap.First != first || gap.Snapshot != 0 {
		t.Fatalf("Open with a gap: %v, want a *GapError at %d", err, first)
	}
	t.Log(err)
}

// A forwarded call returns by the follower's ApplyTimeout even when the
// leader takes longer: with an outcome-unknown timeout.
func TestForwardHonoursApplyTimeout(t *testing.T) {
	c := newCluster(t, 3, func(o *Options) { o.Forward = true })
	leader := c.leader()
	f := c.followers(leader)[0]
	f.opts.ApplyTimeout = time.Second
	entered, release := startWait(t)
	go func() {
		<-entered
		time.Sleep(3 * time.Second)
		release()
	}()
	start := time.Now()
	_, err := f.Apply(add{ID: 1, Wait: true})
	took := time.Since(start)
	if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("forwarded apply on a slow leader: %v, want ErrOutcomeUnknown and ErrTimeout", err)
	}
	if took > 1800*time.Millisecond {
		t.Fatalf("forwarded apply took %v with ApplyTimeout 1s", took)
	}
	t.Logf("took %v: %v", took, err)
}

// Errors are classified: raft's refusals before the log is taken are
// "not applied"; lost leadership and the rest are outcome unknown.
func TestApplyErrorClassified(t *testing.T) {
	c := newCluster(t, 1, nil)
	m := c.nodes["n1"]
	for _, tc := range []struct {
		err     error
		unknown bool
		is      error
	}{
		{raft.ErrNotLeader, false, ErrNotLeader},
		{raft.ErrLeadershipTransferInProgress, false, ErrNotLeader},
		{raft.ErrEnqueueTimeout, false, ErrTimeout},
		{raft.ErrLeadershipLost, true, raft.ErrLeadershipLost},
		{raft.ErrRaftShutdown, true, ErrClosed},
		{raft.ErrAbortedByRestore, true, raft.ErrAbortedByRestore},
	} {
		err := m.applyError(tc.err)
		if errors.Is(err, ErrOutcomeUnknown) != tc.unknown || !errors.Is(err, tc.is) {
			t.Errorf("%v: %v (unknown %v), want unknown %v and %v", tc.err, err, errors.Is(err, ErrOutcomeUnknown), tc.unknown, tc.is)
		}
	}
	// The codes of forwarded calls keep the class.
	for _, err := range []error{outcomeUnknown(ErrClosed), m.applyError(raft.ErrLeadershipLost), outcomeUnknown(ErrTimeout)} {
		re := &remoteError{code: codeOf(err), msg: err.Error()}
		if !errors.Is(re, ErrOutcomeUnknown) {
			t.Errorf("%v travels as %q, which is not outcome unknown", err, re.code)
		}
	}
	if re := (&remoteError{code: codeOf(ErrClosed)}); errors.Is(re, ErrOutcomeUnknown) {
		t.Errorf("ErrClosed travels as outcome unknown")
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct{ strings.Builder }

func (s *memSink) ID() string            { return "mem" }
func (s *memSink) Cancel() error         { return nil }
func (s *memSink) Close() error          { return nil }
func (s *memSink) reader() io.ReadCloser { return readCloser(s.String()) }
func readCloser(s string) io.ReadCloser  { return io.NopCloser(strings.NewReader(s)) }
