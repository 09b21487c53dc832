// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mini-go/mini/minisnap"
)

// rustState is the state the Rust crate wrote in the fixture.
type rustState struct {
	Counter uint64 `json:"counter"`
	Message string `json:"message"`
}

// fixtureDirs are where the Rust crate's minisnap-basic folder may be: the
// copy vendored in this module (testdata/mini-rs, see its README.md), then
// the shared original beside the module.
var fixtureDirs = []string{
	filepath.Join("..", "testdata", "mini-rs", "minisnap-basic"),
	filepath.Join("..", "..", "shared", "fixtures", "mini-rs", "minisnap-basic"),
}

// copyFixture copies the fixture into a fresh directory, so the test never
// writes to it.
func copyFixture(t *testing.T) string {
	t.Helper()
	var (
		src   string
		names []os.DirEntry
		err   error
	)
	for _, src = range fixtureDirs {
		if names, err = os.ReadDir(src); err == nil {
			break
		}
	}
	if err != nil {
		t.Skipf("Rust fixture minisnap-basic not found in %v", fixtureDirs)
	}
	dst := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, n.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestRustFixture(t *testing.T) {
	dir := copyFixture(t)
	s, err := minisnap.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Exists() {
		t.Fatal("Exists = false on the Rust folder")
	}
	var st rustState
	seq, err := s.Restore(&st)
	if err != nil {
		t.Fatal(err)
	}
	if seq != 10 || st.Counter != 42 || st.Message != "hello" {
		t.Fatalf("Restore = %+v, seq %d; want counter 42, message hello, seq 10", st, seq)
	}
	infos := mustList(t, s)
	if len(infos) != 1 || !infos[0].Legacy || infos[0].Seq != 10 || infos[0].Codec != "json" ||
		infos[0].Size != 41 || infos[0].Path != filepath.Join(dir, "snapshot.json") || infos[0].Err != nil {
		t.Fatalf("List = %+v", infos)
	}

	// Going back below the Rust snapshot is refused.
	if err := s.Create(rustState{}, 9); !errors.Is(err, minisnap.ErrOutOfOrder) {
		t.Fatalf("Create(9) = %v, want ErrOutOfOrder", err)
	}
	// A Go snapshot supersedes it; the Rust files are left alone, and
	// retention never counts or removes them.
	for seq := uint64(10); seq <= 13; seq++ {
		if err := s.Create(rustState{Counter: seq, Message: "go"}, seq); err != nil {
			t.Fatal(err)
		}
	}
	if seq, err := s.Restore(&st); err != nil || seq != 13 || st.Counter != 13 {
		t.Fatalf("Restore after Create = %+v, %d, %v", st, seq, err)
	}
	infos = mustList(t, s)
	if got := seqsOf(infos); !slices.Equal(got, []uint64{13, 12, 10}) || !infos[2].Legacy {
		t.Fatalf("List seqs = %v (%+v), want [13 12 10(legacy)]", got, infos)
	}
	for _, name := range []string{"snapshot.json", "snapshot.seq"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("Rust file %s: %v", name, err)
		}
	}
	// The legacy snapshot is the last fallback.
	if err := s.Load(infos[2], func(r io.Reader) error {
		return json.NewDecoder(r).Decode(&st)
	}); err != nil || st.Counter != 42 {
		t.Fatalf("Load(legacy) = %+v, %v", st, err)
	}
}

func TestRustFixtureDamaged(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		data  string
		blame string
	}{
		{"truncated json", "snapshot.json", "{\n  \"counter\": 42,\n  \"mess", "snapshot.json"},
		{"bad json", "snapshot.json", "{\n  \"counter\": 4?2\n}", "snapshot.json"},
		{"bad seq", "snapshot.seq", "ten", "snapshot.seq"},
		{"empty seq", "snapshot.seq", "", "snapshot.seq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixture(t)
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := minisnap.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			var st rustState
			_, err = s.Restore(&st)
			ce, ok := errors.AsType[*minisnap.CorruptError](err)
			if !ok || ce.Path != filepath.Join(dir, tt.blame) {
				t.Fatalf("Restore = %v, want a *CorruptError naming %s", err, tt.blame)
			}
		})
	}
	t.Run("seq with newline", func(t *testing.T) {
		dir := copyFixture(t)
		if err := os.WriteFile(filepath.Join(dir, "snapshot.seq"), []byte("10\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s, _ := minisnap.Open(dir, nil)
		var st rustState
		if seq, err := s.Restore(&st); err != nil || seq != 10 {
			t.Fatalf("Restore = %d, %v", seq, err)
		}
	})
}
