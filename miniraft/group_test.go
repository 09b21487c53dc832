// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/vfs"
)

// A group log applies each call as a log of its own at the same index
// would: the same state, the same per-call results, the same request
// window, as the same calls applied one log each.
func TestGroupLogAppliesLikeSeparateLogs(t *testing.T) {
	c := newTestCodec(t)
	enc := func(ms ...add) []byte {
		b, err := c.Encode(ms)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type callT struct {
		data []byte
		rid  string
	}
	// Before the group, a log with the ID "old" at index 1.
	pre := &raft.Log{Index: 1, Type: raft.LogCommand, Data: enc(add{ID: 1}), Extensions: mustExt(t, "old")}
	calls := []callT{
		{enc(add{ID: 2}), ""},
		{enc(add{ID: 3}), "a"},
		{enc(add{ID: 99}), "old"},                     // a duplicate of the log before
		{enc(add{ID: 4}), "a"},                        // a duplicate within the group
		{enc(add{ID: 50, Limit: 10}), "refused"},      // a Validator refuses it
		{enc(add{ID: 5}, add{ID: 6}), "batch"},        // an ApplyBatch
		{[]byte(`{"id":"not a number"}`), "bad"},      // does not decode
		{enc(add{ID: 70, Limit: 10}, add{ID: 7}), ""}, // a batch refused as a whole
		{enc(add{ID: 8}), "refused"},                  // a duplicate of a refusal
	}

	// One log per call, at indexes 2, 3, ...
	sep := newTestFSM(t)
	sep.Apply(pre)
	var want []any
	for i, cl := range calls {
		ext := mustExt(t, cl.rid)
		r := sep.Apply(&raft.Log{Index: uint64(2 + i), Type: raft.LogCommand, Data: cl.data, Extensions: ext})
		want = append(want, r)
	}

	// All calls in one group log at index 2.
	grp := newTestFSM(t)
	grp.Apply(pre)
	recs := make([][]byte, len(calls))
	rids := make([]string, len(calls))
	for i, cl := range calls {
		recs[i], rids[i] = cl.data, cl.rid
	}
	l := &raft.Log{Index: 2, Type: raft.LogCommand, Data: appendGroupData(nil, recs), Extensions: encodeGroupExt(rids)}
	got, ok := grp.Apply(l).(groupResult)
	if !ok || len(got) != len(calls) {
		t.Fatalf("group result %#v", got)
	}
	if !slices.Equal(sep.state.IDs, grp.state.IDs) || sep.state.Sum != grp.state.Sum {
		t.Fatalf("state %+v, one log per call gives %+v", grp.state, sep.state)
	}
	if !slices.Equal(grp.state.IDs, []int{1, 2, 3, 5, 6}) {
		t.Fatalf("state %v", grp.state.IDs)
	}
	if grp.sequence() != 2 {
		t.Fatalf("sequence %d, want the group's index 2", grp.sequence())
	}
	for i := range calls {
		gs, gd, ge := callResult(2, got[i])
		ss, sd, se := callResult(uint64(2+i), want[i])
		// Sequence numbers differ (the group is one index); dup, the
		// sentinel an error matches, and the first log a dup points to
		// must agree.
		if gd != sd || (ge == nil) != (se == nil) || errors.Is(ge, ministate.ErrRefused) != errors.Is(se, ministate.ErrRefused) {
			t.Fatalf("call %d: group (%d, %v, %v), separate (%d, %v, %v)", i, gs, gd, ge, ss, sd, se)
		}
		switch {
		case i == 2: // dup of the log at index 1
			if gs != 1 || ss != 1 {
				t.Fatalf("call %d: dup seq %d / %d, want 1", i, gs, ss)
			}
		case gd && ge == nil, ge == nil:
			if gs != 2 {
				t.Fatalf("call %d: seq %d, want 2", i, gs)
			}
		}
	}
	// The dup of a refusal returns the refusal.
	if _, dup, err := callResult(2, got[8]); !dup || !errors.Is(err, ministate.ErrRefused) {
		t.Fatalf("dup of a refusal: %v %v", dup, err)
	}
	// The windows agree on IDs and results.
	gl, sl := grp.reqs.list(), sep.reqs.list()
	if len(gl) != len(sl) {
		t.Fatalf("windows of %d and %d IDs", len(gl), len(sl))
	}
	for i := range gl {
		wantSeq := uint64(2)
		if gl[i].ID == "old" {
			wantSeq = 1
		}
		if gl[i].ID != sl[i].ID || gl[i].Code != sl[i].Code || gl[i].Seq != wantSeq {
			t.Fatalf("window entry %d: group %+v, separate %+v", i, gl[i], sl[i])
		}
	}
}

func mustExt(t *testing.T, rid string) []byte {
	t.Helper()
	b, err := encodeRequestExt(rid)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A group whose data does not split into its calls refuses every call,
// changes nothing, and still records the request IDs with the refusal.
func TestGroupLogBadData(t *testing.T) {
	for _, data := range []string{`[{"id":1}]`, `[{"id":1},{"id":2},{"id":3}]`, `{"id":1}`, `[{"id":1},{"id":2}`, `[{"id":1},,{"id":2}]`, `[{"id":1},{"id":2}] x`, ``} {
		f := newTestFSM(t)
		l := &raft.Log{Index: 5, Data: []byte(data), Extensions: encodeGroupExt([]string{"x", ""})}
		got, ok := f.Apply(l).(groupResult)
		if !ok || len(got) != 2 {
			t.Fatalf("%s: result %#v", data, got)
		}
		for i, r := range got {
			if err, ok := r.(error); !ok || !errors.Is(err, ministate.ErrRefused) || !errors.Is(err, errGroup) {
				t.Fatalf("%s: call %d: %v", data, i, r)
			}
		}
		if len(f.state.IDs) != 0 || f.sequence() != 5 || f.reqs.get("x") == nil {
			t.Fatalf("%s: state %v, seq %d, window %v", data, f.state.IDs, f.sequence(), f.reqs.list())
		}
	}
	// Extensions that say group but do not agree with themselves refuse
	// the log.
	for _, ext := range []string{`{"group":2,"rids":["a"]}`, `{"group":-1}`, `{"group":1,"rid":"a"}`, `{"rids":["a"]}`, `{"group":100000}`} {
		f := newTestFSM(t)
		r := f.Apply(&raft.Log{Index: 3, Data: []byte(`[{"id":1}]`), Extensions: []byte(ext)})
		if err, ok := r.(error); !ok || !errors.Is(err, ministate.ErrRefused) {
			t.Fatalf("%s: %v", ext, r)
		}
		if len(f.state.IDs) != 0 || f.sequence() != 3 {
			t.Fatalf("%s: state %v, seq %d", ext, f.state.IDs, f.sequence())
		}
	}
}

func TestParseExt(t *testing.T) {
	for _, tc := range []struct {
		ext  string
		rid  string
		n    int
		rids []string
		bad  bool
	}{
		{ext: ``},
		{ext: `{"rid":"a"}`, rid: "a"},
		{ext: `garbage`},
		{ext: `{"other":1}`},
		{ext: `{"group":3}`, n: 3},
		{ext: `{"group":2,"rids":["a",""]}`, n: 2, rids: []string{"a", ""}},
		{ext: `{"group":2,"rids":["a"]}`, bad: true},
		{ext: `{"group":0,"rids":[]}`, bad: true},
		{ext: `{"group":65537}`, bad: true},
	} {
		rid, n, rids, err := parseExt([]byte(tc.ext))
		if rid != tc.rid || n != tc.n || !slices.Equal(rids, tc.rids) || (err != nil) != tc.bad {
			t.Errorf("%s: (%q, %d, %q, %v)", tc.ext, rid, n, rids, err)
		}
	}
	for _, rids := range [][]string{{"", ""}, {"a", "", "b"}} {
		_, n, got, err := parseExt(encodeGroupExt(rids))
		if err != nil || n != len(rids) {
			t.Fatalf("%q: %d %v", rids, n, err)
		}
		if slices.Equal(rids, []string{"", ""}) {
			if got != nil {
				t.Fatalf("no IDs encoded as %q", got)
			}
		} else if !slices.Equal(got, rids) {
			t.Fatalf("%q came back as %q", rids, got)
		}
	}
}

// FuzzSplitJSONArray: on a JSON array, splitJSONArray finds the
// elements encoding/json finds; on anything else it returns an error or
// elements, never panics.
func FuzzSplitJSONArray(f *testing.F) {
	f.Add([]byte(`[{"a":"],\"["},[1,2],"x",null, 3 ]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[1,`))
	f.Add([]byte(`[{"a":1}},{"b":2}]`))
	f.Add([]byte(` [ {"id":1} , {"id":2} ] `))
	f.Fuzz(func(t *testing.T, p []byte) {
		got, err := splitJSONArray(p)
		var elems []json.RawMessage
		if json.Unmarshal(p, &elems) != nil || p[jsonline.SkipSpace(p, 0)] != '[' {
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if len(got) != len(elems) {
			t.Fatalf("%q: %d elements, want %d", p, len(got), len(elems))
		}
		for i := range elems {
			if string(got[i]) != string(elems[i]) {
				t.Fatalf("%q: element %d is %q, want %q", p, i, got[i], elems[i])
			}
		}
	})
}

// Concurrent Applies on the leader share logs, and each still gets its
// own exact result: every call's mutation is in the state once, a retry
// of every call with its ID is a duplicate with the first sequence
// number, and refusals are per call.
func TestClusterApplyGroups(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader()
	before := leader.Sequence()
	const n = 200
	var (
		mu   sync.Mutex
		seqs = map[int]uint64{}
		wg   sync.WaitGroup
	)
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			mut := add{ID: i}
			if i%10 == 0 {
				mut.Limit = 1 // refused: the sum is above 1 by then, or ID > 1
			}
			seq, dup, err := leader.ApplyWithID("r"+strconv.Itoa(i), mut)
			switch {
			case i%10 == 0 && !errors.Is(err, ministate.ErrRefused):
				t.Errorf("call %d: %v, want a refusal", i, err)
			case i%10 != 0 && (err != nil || dup):
				t.Errorf("call %d: dup %v, %v", i, dup, err)
			}
			mu.Lock()
			seqs[i] = seq
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	logs := leader.Sequence() - before
	t.Logf("%d calls in at most %d logs", n, logs)
	if logs >= n {
		t.Fatalf("%d calls took %d logs: none was grouped", n, logs)
	}
	// Retries are duplicates with the first result.
	for i := 1; i <= n; i++ {
		seq, dup, err := leader.ApplyWithID("r"+strconv.Itoa(i), add{ID: 1000 + i})
		if !dup {
			t.Fatalf("retry %d: not a duplicate", i)
		}
		if i%10 == 0 {
			if !errors.Is(err, ministate.ErrRefused) {
				t.Fatalf("retry %d: %v, want the refusal", i, err)
			}
			continue
		}
		if err != nil || seq != seqs[i] {
			t.Fatalf("retry %d: (%d, %v), first call got %d", i, seq, err, seqs[i])
		}
	}
	acked := map[int]uint64{}
	for i, s := range seqs {
		if i%10 != 0 {
			acked[i] = s
		}
	}
	st := c.converge(acked)
	if len(st.IDs) != len(acked) {
		t.Fatalf("state holds %d mutations, %d acknowledged", len(st.IDs), len(acked))
	}
	// The state holds the calls in the order of their sequence numbers.
	for k := 1; k < len(st.IDs); k++ {
		if acked[st.IDs[k]] < acked[st.IDs[k-1]] {
			t.Fatalf("%d (seq %d) after %d (seq %d)", st.IDs[k], acked[st.IDs[k]], st.IDs[k-1], acked[st.IDs[k-1]])
		}
	}
}

// With ApplyGroup -1 every call has a log of its own.
func TestClusterApplyGroupOff(t *testing.T) {
	c := newCluster(t, 3, func(o *Options) { o.ApplyGroup = -1 })
	acked := c.applyMany(1, 64, 16)
	seen := map[uint64]bool{}
	for id, s := range acked {
		if seen[s] {
			t.Fatalf("mutation %d shares sequence number %d", id, s)
		}
		seen[s] = true
	}
	c.converge(acked)
}

// While raft stores a log, the calls that arrive wait in the grouper's
// queue. One whose time runs out there, or whose node closes, was never
// handed to raft: its error is ErrTimeout or ErrClosed without
// ErrOutcomeUnknown, and it is never applied. The call in the log raft
// was storing is outcome unknown, and is applied once the store returns.
func TestGroupQueuedCallsFailExactly(t *testing.T) {
	faulty := vfs.NewFaulty(vfs.OS)
	var gate struct {
		sync.Mutex
		on      bool
		entered chan struct{}
		release chan struct{}
	}
	faulty.FailWhen(func(op vfs.Op) error {
		if op.Kind != vfs.OpSync || !strings.Contains(op.Path, "raft.log") {
			return nil
		}
		gate.Lock()
		on, entered, release := gate.on, gate.entered, gate.release
		gate.on = false
		gate.Unlock()
		if on {
			close(entered)
			<-release
		}
		return nil
	})
	c := newCluster(t, 1, func(o *Options) {
		o.FS = faulty
		o.ApplyTimeout = time.Second
	})
	m := c.leader()
	if _, err := m.Apply(add{ID: 1}); err != nil {
		t.Fatal(err)
	}
	gate.Lock()
	gate.on, gate.entered, gate.release = true, make(chan struct{}), make(chan struct{})
	gate.Unlock()

	first := make(chan error, 1)
	go func() {
		_, err := m.Apply(add{ID: 2})
		first <- err
	}()
	<-gate.entered // raft is storing the log of call 2
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { _, errs[i] = m.Apply(add{ID: 10 + i}) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("queued call %d: %v, want ErrTimeout without ErrOutcomeUnknown", i, err)
		}
	}
	if err := <-first; !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("the call raft was storing: %v, want ErrOutcomeUnknown", err)
	}
	close(gate.release)
	// Call 2 is committed; the queued ones never are.
	if _, err := m.Apply(add{ID: 3}); err != nil {
		t.Fatal(err)
	}
	var ids []int
	m.View(func(s *ledger) { ids = slices.Clone(s.IDs) })
	if !slices.Equal(ids, []int{1, 2, 3}) {
		t.Fatalf("state %v, want [1 2 3]", ids)
	}

	// The same with Close: queued calls get ErrClosed, not outcome unknown.
	gate.Lock()
	gate.on, gate.entered, gate.release = true, make(chan struct{}), make(chan struct{})
	gate.Unlock()
	go m.Apply(add{ID: 4})
	<-gate.entered
	queued := make(chan error, 1)
	go func() {
		_, err := m.Apply(add{ID: 5})
		queued <- err
	}()
	// Let call 5 reach the queue, then close.
	waitFor(t, "call 5 to reach the queue", func() bool {
		m.group.mu.Lock()
		defer m.group.mu.Unlock()
		return len(m.group.queue) > 0
	})
	closed := make(chan error, 1)
	go func() { closed <- m.shutdown() }()
	if err := <-queued; !errors.Is(err, ErrClosed) || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("queued call at Close: %v, want ErrClosed without ErrOutcomeUnknown", err)
	}
	close(gate.release)
	<-closed
	c.nodes["n1"] = nil
}
