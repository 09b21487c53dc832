// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/ministate"
)

// A folder as the current Rust crates lay it out: sealed journal segments
// named NAME.000001 and a numbered snapshot snapshot_<seq, 20 digits>.json
// holding {"seq":N,"state":...}, made by hand from the ministate-snapshot
// fixture. Go recovers it and continues the journal with six digits.
func TestRustCurrentLayout(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("test.wal.jsonl.000001", "// MINISTORE JOURNAL v0.1.4\n{\"to\":10}\n{\"to\":20}\n")
	write("test.wal.jsonl", "// MINISTORE JOURNAL v0.1.4\n{\"to\":30}\n")
	write("snapshot_00000000000000000002.json", "{\n  \"seq\": 2,\n  \"state\": {\n    \"version\": 20,\n    \"enabled\": true\n  }\n}")

	m := mustOpen[Config, UpdateVersion](t, dir, "test.wal.jsonl", &ministate.Options{MaxSegmentBytes: 40})
	if got := state(m); got != (Config{Version: 30, Enabled: true}) || m.Sequence() != 3 {
		t.Fatalf("recovered %+v at %d; want version 30, enabled, at 3", got, m.Sequence())
	}
	if seq, ok := m.SnapshotSeq(); !ok || seq != 2 {
		t.Fatalf("SnapshotSeq = %d, %v; want the Rust snapshot at 2", seq, ok)
	}
	for v := uint32(40); v <= 90; v += 10 {
		mustApply(t, m, UpdateVersion{To: v})
	}
	mustClose(t, m)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if suffix, ok := strings.CutPrefix(e.Name(), "test.wal.jsonl."); ok && strings.Trim(suffix, "0123456789") == "" {
			names = append(names, e.Name())
			if len(suffix) != 6 {
				t.Errorf("sealed segment %s: want six digits like the Rust crate's", e.Name())
			}
		}
	}
	if len(names) < 2 {
		t.Fatalf("no rotation: %v", names)
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshot_00000000000000000002.json")); err != nil {
		t.Fatalf("the Rust snapshot is gone: %v", err)
	}
	m = mustOpen[Config, UpdateVersion](t, dir, "test.wal.jsonl", nil)
	defer mustClose(t, m)
	if got := state(m); got.Version != 90 || m.Sequence() != 9 {
		t.Fatalf("reopened: %+v at %d; want version 90 at 9", got, m.Sequence())
	}
}
