// SPDX-License-Identifier: MIT OR Apache-2.0

package msgpacksnap_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/msgpacksnap"
	"github.com/mini-go/mini/ministate"
)

// config and setVersion are the state and mutation of the mini-rs fixture
// ministate-snapshot: struct Config { version: u32, enabled: bool } and
// UpdateVersion { to: u32 }.
type config struct {
	Version uint32 `json:"version"`
	Enabled bool   `json:"enabled"`
}

type setVersion struct {
	To uint32 `json:"to"`
}

func (u setVersion) Apply(s *config) { s.Version = u.To }

// A state folder of the current Rust crates with the rmp feature: a plain
// journal and a MessagePack snapshot at seq 2. ministate with this codec
// starts from the snapshot and replays record 3; a Backup copies the
// snapshot and restores the same state.
func TestMinistateRustFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("test.wal.jsonl", []byte("// MINISTORE JOURNAL v0.1.4\n{\"to\":10}\n{\"to\":20}\n{\"to\":30}\n"))
	// [2, [20, true]]: Config { version: 20, enabled: true } at seq 2.
	write("snapshot_00000000000000000002", []byte{0x92, 0x02, 0x92, 0x14, 0xc3})
	// Without the codec, Open refuses the folder (ErrCodec) rather than
	// start from an older snapshot.
	if _, err := ministate.Open[config, setVersion](dir, "test.wal.jsonl", nil); !errors.Is(err, minisnap.ErrCodec) {
		t.Fatalf("Open without msgpacksnap: %v, want ErrCodec", err)
	}
	opts := &ministate.Options{SnapshotCodec: msgpacksnap.New()}

	m, err := ministate.Open[config, setVersion](dir, "test.wal.jsonl", opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Copy()
	if err != nil {
		t.Fatal(err)
	}
	snap, ok := m.SnapshotSeq()
	if got != (config{Version: 30, Enabled: true}) || m.Sequence() != 3 || !ok || snap != 2 {
		t.Fatalf("recovered %+v at %d, snapshot %d %v; want version 30, enabled, at 3 from the snapshot at 2", got, m.Sequence(), snap, ok)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	info, err := m.Backup(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if info.SnapshotSeq != 2 || info.Seq != 3 {
		t.Fatalf("Backup %+v", info)
	}
	if _, err := os.Stat(filepath.Join(dst, "snapshot_00000000000000000002")); err != nil {
		t.Fatal(err)
	}
	// The standalone Backup, beside no process, copies it too.
	dst2 := filepath.Join(t.TempDir(), "copy2")
	if info, err := ministate.Backup(dir, "test.wal.jsonl", dst2, opts); err != nil || info.SnapshotSeq != 2 {
		t.Fatalf("ministate.Backup = %+v, %v", info, err)
	}
	for _, d := range []string{dst, dst2} {
		c, err := ministate.Open[config, setVersion](d, "test.wal.jsonl", opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Copy()
		if err != nil {
			t.Fatal(err)
		}
		if snap, _ := c.SnapshotSeq(); got != (config{Version: 30, Enabled: true}) || c.Sequence() != 3 || snap != 2 {
			t.Fatalf("copy %s: %+v at %d, snapshot %d", d, got, c.Sequence(), snap)
		}
		c.Close()
	}
}
