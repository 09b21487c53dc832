// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mini-go/mini/internal/crashtest"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/vfs"
)

// step is one Create of a crash workload.
type step struct {
	seq    uint64
	tag    string
	stream bool // CreateFrom with a multi-megabyte state written in pieces
}

// stepCache holds each step's state and its pretty JSON, built once: the
// crash tests run the workloads hundreds of times.
var stepCache sync.Map // step -> *stepData

type stepData struct {
	state testState
	json  []byte
}

func (st step) data() *stepData {
	if d, ok := stepCache.Load(st); ok {
		return d.(*stepData)
	}
	s := stateFor(st.seq, st.tag)
	if st.stream {
		// Written in 16 KiB pieces through a 4 KiB buffer (see
		// runWorkload): several writes.
		unit := fmt.Sprintf("%s-%d|", st.tag, st.seq)
		s.Blob = strings.Repeat(unit, 50_000/len(unit)+1)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err)
	}
	d, _ := stepCache.LoadOrStore(st, &stepData{state: s, json: b})
	return d.(*stepData)
}

func (st step) state() testState { return st.data().state }

func (st step) create(s *minisnap.Store) error {
	if !st.stream {
		return s.Create(st.state(), st.seq)
	}
	return s.CreateFrom(st.seq, func(w io.Writer) error {
		for chunk := range slices.Chunk(st.data().json, 16<<10) {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return nil
	})
}

// workloads: several creates in a row, with retention deletes, a repeated
// sequence number and a streamed state that takes several writes.
var workloads = []struct {
	name  string
	keep  int
	steps []step
}{
	{"keep2", 0, []step{{1, "a", false}, {2, "b", false}, {3, "c", false}, {3, "d", false}, {5, "e", true}, {6, "f", false}}},
	{"keep1", 1, []step{{1, "a", false}, {2, "b", true}, {4, "c", false}, {7, "d", false}}},
}

// runWorkload opens a Store on fsys and runs the steps until one fails.
// acked is the index of the last step whose Create returned nil (-1 for
// none).
func runWorkload(fsys vfs.FS, keep int, steps []step) (s *minisnap.Store, acked int, err error) {
	acked = -1
	s, err = minisnap.Open(memDir, &minisnap.Options{FS: fsys, Keep: keep})
	if err != nil {
		return nil, acked, err
	}
	minisnap.SetBufferSize(s, 4<<10)
	for i, st := range steps {
		if err := st.create(s); err != nil {
			return s, acked, err
		}
		acked = i
	}
	return s, acked, nil
}

// checkRecovered opens fsys as after a restart and checks that Restore
// returns the last acknowledged snapshot or the one in flight, whole and
// consistent; that every listed snapshot verifies; that no temporary
// directory is left; and that a new Create works.
func checkRecovered(t *testing.T, fsys vfs.FS, keep int, steps []step, acked int, where string) {
	t.Helper()
	s, err := minisnap.Open(memDir, &minisnap.Options{FS: fsys, Keep: keep})
	if err != nil {
		t.Fatalf("%s: Open: %v", where, err)
	}
	if left := tempEntries(t, fsys, memDir); len(left) != 0 {
		t.Errorf("%s: Open left temporary entries %v", where, left)
	}
	var got testState
	seq, err := s.Restore(&got)
	if acked < 0 && errors.Is(err, minisnap.ErrNotFound) {
		// Nothing was acknowledged and nothing survived: fine.
	} else if err != nil {
		t.Fatalf("%s: Restore (last acked step %d): %v", where, acked, err)
	} else {
		ok := false
		for _, i := range []int{acked, acked + 1} { // acknowledged, or in flight
			if i >= 0 && i < len(steps) && steps[i].seq == seq && steps[i].state().equal(got) {
				ok = true
			}
		}
		if !ok {
			t.Fatalf("%s: Restore = seq %d tag %q (%d items); last acked step %d %+v",
				where, seq, got.Tag, len(got.Items), acked, steps[max(acked, 0)])
		}
	}
	// Every snapshot that is listed is whole: no half-written or
	// half-deleted snapshot is ever visible.
	for _, info := range mustList(t, s) {
		if info.Err != nil {
			t.Fatalf("%s: List shows a damaged snapshot: %v", where, info.Err)
		}
		var buf bytes.Buffer
		if err := s.Load(info, func(r io.Reader) error { _, err := io.Copy(&buf, r); return err }); err != nil {
			t.Fatalf("%s: Load(seq %d): %v", where, info.Seq, err)
		}
		if !slices.ContainsFunc(steps, func(x step) bool { return x.seq == info.Seq && bytes.Equal(x.data().json, buf.Bytes()) }) {
			t.Fatalf("%s: snapshot %d holds bytes no Create wrote (%d bytes)", where, info.Seq, buf.Len())
		}
	}
	next := step{seq: steps[len(steps)-1].seq + 1, tag: "after"}
	if err := next.create(s); err != nil {
		t.Fatalf("%s: Create after recovery: %v", where, err)
	}
	if seq, err := s.Restore(&got); err != nil || seq != next.seq || !got.equal(next.state()) {
		t.Fatalf("%s: Restore after recovery = %d, %v", where, seq, err)
	}
}

// recordOps runs a workload without faults and returns its operations, so
// a failure message can say what operation k is.
func recordOps(t *testing.T, keep int, steps []step) []vfs.Op {
	t.Helper()
	var (
		mu  sync.Mutex
		ops []vfs.Op
	)
	ff := vfs.NewFaulty(vfs.NewMem())
	ff.FailWhen(func(op vfs.Op) error {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
		return nil
	})
	if _, _, err := runWorkload(ff, keep, steps); err != nil {
		t.Fatal(err)
	}
	return ops
}

func describe(ops []vfs.Op, k int) string {
	if k < 1 || k > len(ops) {
		return fmt.Sprintf("op %d", k)
	}
	op := ops[k-1]
	s := fmt.Sprintf("op %d (%s %s", op.N, op.Kind, op.Path)
	if op.NewPath != "" {
		s += " -> " + op.NewPath
	}
	return s + ")"
}

// TestCrashAtEveryOp crashes the workloads at each of their operations,
// from Open through every Create, including retention deletes.
func TestCrashAtEveryOp(t *testing.T) {
	type crashMode struct {
		name string
		opts func() vfs.CrashOptions
	}
	crashModes := []crashMode{
		{"durable-only", func() vfs.CrashOptions { return vfs.CrashOptions{} }},
		{"all-unsynced-kept", func() vfs.CrashOptions {
			return vfs.CrashOptions{Rand: rand.New(rand.NewPCG(1, 2)), KeepUnsynced: 1}
		}},
	}
	// Unsynced changes written back in any order: several seeds.
	for seed := range uint64(crashtest.Variants() + 1) {
		crashModes = append(crashModes, crashMode{fmt.Sprint("half-unsynced-kept/seed=", seed), func() vfs.CrashOptions {
			return vfs.CrashOptions{Rand: rand.New(rand.NewPCG(seed, 11)), KeepUnsynced: 0.5}
		}})
	}
	for _, wl := range workloads {
		for _, mode := range crashModes {
			t.Run(wl.name+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				crashes := 0
				ops := recordOps(t, wl.keep, wl.steps)
				for k := 1; ; k++ {
					ff := vfs.NewFaulty(vfs.NewMem())
					ff.SetCrashOptions(mode.opts())
					ff.CrashAt(k)
					_, acked, err := runWorkload(ff, wl.keep, wl.steps)
					disk := ff.Crashed()
					if disk == nil {
						if err != nil {
							t.Fatalf("workload failed without a crash: %v", err)
						}
						break
					}
					if !errors.Is(err, vfs.ErrCrashed) {
						t.Fatalf("crash at %s: workload error %v, want ErrCrashed", describe(ops, k), err)
					}
					crashes++
					checkRecovered(t, disk, wl.keep, wl.steps, acked, "crash at "+describe(ops, k))
				}
				if crashes < 50 {
					t.Fatalf("only %d crash points: the workload is not being exercised", crashes)
				}
				t.Logf("%d crash points", crashes)
			})
		}
	}
}

// TestErrorAtEveryOp fails each operation of the workloads once with EIO
// and with ENOSPC (a failing write is a short write): the error must come
// back from Open or Create, the previous snapshot must still restore, and
// the same Store must keep working.
func TestErrorAtEveryOp(t *testing.T) {
	for _, wl := range workloads {
		ops := recordOps(t, wl.keep, wl.steps)
		total := len(ops)
		writes := map[string]int{}
		for _, op := range ops {
			if op.Kind == vfs.OpWrite {
				writes[op.Path]++
			}
		}
		if slices.Max(slices.Collect(maps.Values(writes))) < 3 {
			t.Fatalf("%s: no state file takes several writes: %v", wl.name, writes)
		}
		for _, injected := range []error{syscall.EIO, syscall.ENOSPC} {
			t.Run(fmt.Sprintf("%s/%v", wl.name, injected), func(t *testing.T) {
				t.Parallel()
				defer t.Logf("%d operations, each failed once", total)
				for k := 1; k <= total; k++ {
					mem := vfs.NewMem()
					ff := vfs.NewFaulty(mem)
					ff.FailAt(k, injected)
					s, acked, err := runWorkload(ff, wl.keep, wl.steps)
					where := fmt.Sprintf("%v at %s", injected, describe(ops, k))
					if err == nil {
						t.Fatalf("%s: the workload succeeded; the error was swallowed", where)
					}
					if !errors.Is(err, injected) || !strings.HasPrefix(err.Error(), "minisnap: ") {
						t.Fatalf("%s: error %q, want a minisnap: error wrapping %v", where, err, injected)
					}
					if s != nil {
						// The Store that saw the error still restores and creates.
						var got testState
						seq, rerr := s.Restore(&got)
						if acked >= 0 || rerr == nil {
							if rerr != nil {
								t.Fatalf("%s: Restore on the same Store: %v", where, rerr)
							}
							ok := seq == wl.steps[max(acked, 0)].seq && got.equal(wl.steps[max(acked, 0)].state())
							ok = ok || (acked+1 < len(wl.steps) && seq == wl.steps[acked+1].seq && got.equal(wl.steps[acked+1].state()))
							if !ok {
								t.Fatalf("%s: Restore = seq %d tag %q, last acked step %d", where, seq, got.Tag, acked)
							}
						}
					}
					if s != nil {
						s.Close() // a second writer needs the lock
					}
					// Then the disk, both as it is and as a power loss would leave it.
					checkRecovered(t, mem.CrashClone(vfs.CrashOptions{}), wl.keep, wl.steps, acked, where+", then power loss")
					checkRecovered(t, mem, wl.keep, wl.steps, acked, where)
				}
			})
		}
	}
}
