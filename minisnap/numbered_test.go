// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/vfs"
)

// numberedPath is where the current Rust crate writes snapshot seq.
func numberedPath(seq uint64) string {
	return filepath.Join(memDir, fmt.Sprintf("snapshot_%020d.json", seq))
}

// writeNumbered writes, by hand, a snapshot of the shape the current Rust
// crate writes: {"seq":N,"state":...}, pretty-printed as serde_json does.
func writeNumbered(t testing.TB, m *vfs.Mem, seq uint64, st rustState) {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{"seq": seq, "state": st}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := vfs.MkdirAll(m, memDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeAll(t, m, numberedPath(seq), b)
}

func TestNumberedRustSnapshots(t *testing.T) {
	s, m := openMem(t, nil)
	writeNumbered(t, m, 5, rustState{Counter: 5, Message: "five"})
	writeNumbered(t, m, 12, rustState{Counter: 12, Message: "twelve"})
	// Names that are not the Rust crate's numbered snapshots are ignored.
	for _, name := range []string{"snapshot_12.json", "snapshot_000000000000000000013.json", "snapshot_00000000000000000014.msgpack", "snapshot_0000000000000000001x.json"} {
		writeAll(t, m, filepath.Join(memDir, name), []byte(`{"seq":13,"state":{}}`))
	}
	var got rustState
	seq, err := s.Restore(&got)
	if err != nil || seq != 12 || got != (rustState{12, "twelve"}) {
		t.Fatalf("Restore = %d, %+v, %v", seq, got, err)
	}
	infos := mustList(t, s)
	if !slices.Equal(seqsOf(infos), []uint64{12, 5}) {
		t.Fatalf("List seqs %v", seqsOf(infos))
	}
	for _, i := range infos {
		if !i.Legacy || i.Codec != "json" || i.Path != numberedPath(i.Seq) || i.Err != nil || i.Size == 0 {
			t.Fatalf("Info %+v", i)
		}
	}

	// A Go snapshot above them is restored first; Keep never deletes the
	// Rust crate's files; a seq below the newest is still refused.
	if err := s.Create(rustState{20, "go"}, 20); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(rustState{21, "go"}, 21); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(rustState{22, "go"}, 22); err != nil { // Keep 2 prunes 20
		t.Fatal(err)
	}
	if seq, err := s.Restore(&got); err != nil || seq != 22 || got != (rustState{22, "go"}) {
		t.Fatalf("Restore after Create = %d, %+v, %v", seq, got, err)
	}
	if got := seqsOf(mustList(t, s)); !slices.Equal(got, []uint64{22, 21, 12, 5}) {
		t.Fatalf("List after Create %v", got)
	}
	if err := s.Create(rustState{}, 11); !errors.Is(err, minisnap.ErrOutOfOrder) {
		t.Fatalf("Create below the newest: %v", err)
	}

	// A numbered snapshot newer than every Go snapshot is the newest.
	writeNumbered(t, m, 30, rustState{Counter: 30, Message: "rust again"})
	if seq, err := s.Restore(&got); err != nil || seq != 30 || got != (rustState{30, "rust again"}) {
		t.Fatalf("Restore of a newer numbered = %d, %+v, %v", seq, got, err)
	}
	// At the same seq the Go snapshot (it has a checksum) comes first.
	writeNumbered(t, m, 22, rustState{Counter: 22, Message: "rust"})
	infos = mustList(t, s)
	if !slices.Equal(seqsOf(infos), []uint64{30, 22, 22, 21, 12, 5}) || infos[1].Legacy || !infos[2].Legacy {
		t.Fatalf("List with a tie %v", infos)
	}
}

// A damaged numbered snapshot is a *CorruptError naming the file;
// RestoreLatestGood falls back to the next one, as with Go snapshots.
func TestNumberedRustSnapshotDamaged(t *testing.T) {
	good, err := json.MarshalIndent(map[string]any{"seq": 9, "state": rustState{9, "nine"}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		off  int64 // -1: no position
	}{
		{"cut short", good[:len(good)/2], int64(len(good) / 2)},
		{"empty", nil, 0},
		{"not JSON", []byte("\x00\x00\x00\x00"), 1},
		{"seq differs", []byte(`{"seq":8,"state":{"counter":9}}`), -1},
		{"no seq", []byte(`{"state":{"counter":9}}`), -1},
		{"no state", []byte(`{"seq":9}`), -1},
		{"trailing bytes", append(slices.Clone(good), "}"...), int64(len(good))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, m := openMem(t, nil)
			writeNumbered(t, m, 4, rustState{4, "four"})
			writeAll(t, m, numberedPath(9), tc.data)
			var got rustState
			_, err := s.Restore(&got)
			ce, ok := errors.AsType[*minisnap.CorruptError](err)
			if !ok || !errors.Is(err, minisnap.ErrCorrupt) || ce.Path != numberedPath(9) || ce.Seq != 9 {
				t.Fatalf("Restore: %v", err)
			}
			if tc.off >= 0 && ce.Offset != tc.off {
				t.Errorf("offset %d, want %d (%v)", ce.Offset, tc.off, err)
			}
			if got != (rustState{}) {
				t.Fatalf("Restore changed the state: %+v", got)
			}
			seq, skipped, err := s.RestoreLatestGood(&got)
			if err != nil || seq != 4 || got != (rustState{4, "four"}) || len(skipped) != 1 || skipped[0].Path != numberedPath(9) {
				t.Fatalf("RestoreLatestGood = %d, %+v, %v, %v", seq, got, skipped, err)
			}
		})
	}
}

// A state that does not fit the target type is a decode error, not
// corruption: RestoreLatestGood does not fall back over it.
func TestNumberedRustSnapshotWrongType(t *testing.T) {
	s, m := openMem(t, nil)
	writeNumbered(t, m, 4, rustState{4, "four"})
	writeAll(t, m, numberedPath(9), []byte(`{"seq":9,"state":{"counter":"nine"}}`))
	var got rustState
	if _, _, err := s.RestoreLatestGood(&got); err == nil || errors.Is(err, minisnap.ErrCorrupt) {
		t.Fatalf("RestoreLatestGood: %v", err)
	}
}

// FuzzRestoreNumbered stores arbitrary bytes as a numbered Rust snapshot:
// nothing may panic, and bytes that hold the right seq and a state that
// decodes are never reported as corrupt.
func FuzzRestoreNumbered(f *testing.F) {
	f.Add([]byte(`{"seq":7,"state":{"counter":42,"message":"hello"}}`))
	f.Add([]byte(`{"seq":7,"state":{"counter":42,"mess`))
	f.Add([]byte(`{"seq":7}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, m := openMem(t, nil)
		if err := vfs.MkdirAll(m, memDir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeAll(t, m, numberedPath(7), data)
		var got rustState
		_, err := s.Restore(&got)
		var nf struct {
			Seq   *uint64    `json:"seq"`
			State *rustState `json:"state"`
		}
		if json.Unmarshal(data, &nf) == nil && nf.Seq != nil && *nf.Seq == 7 && nf.State != nil && err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if _, err := s.List(); err != nil {
			t.Fatal(err)
		}
	})
}
