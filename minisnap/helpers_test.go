// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/vfs"
)

// testState is a state whose every field is derived from its sequence
// number and a tag, so a restored state shows which Create wrote it.
type testState struct {
	Seq    uint64            `json:"seq"`
	Tag    string            `json:"tag"`
	Items  []int             `json:"items"`
	Labels map[string]string `json:"labels"`
	Blob   string            `json:"blob,omitempty"`
}

func stateFor(seq uint64, tag string) testState {
	s := testState{Seq: seq, Tag: tag, Labels: map[string]string{}}
	for i := range int(seq%5)*30 + 3 {
		s.Items = append(s.Items, int(seq)*1000+i)
	}
	s.Labels["seq"] = fmt.Sprint(seq)
	s.Labels["tag"] = tag
	return s
}

func (s testState) equal(o testState) bool {
	if s.Seq != o.Seq || s.Tag != o.Tag || s.Blob != o.Blob || len(s.Items) != len(o.Items) || len(s.Labels) != len(o.Labels) {
		return false
	}
	for i := range s.Items {
		if s.Items[i] != o.Items[i] {
			return false
		}
	}
	for k, v := range s.Labels {
		if o.Labels[k] != v {
			return false
		}
	}
	return true
}

const memDir = "/data/snaps"

// openMem opens a Store on a fresh in-memory file system.
func openMem(t testing.TB, opts *minisnap.Options) (*minisnap.Store, *vfs.Mem) {
	t.Helper()
	m := vfs.NewMem()
	o := minisnap.Options{}
	if opts != nil {
		o = *opts
	}
	o.FS = m
	s, err := minisnap.Open(memDir, &o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, m
}

func mustCreate(t testing.TB, s *minisnap.Store, seq uint64, tag string) testState {
	t.Helper()
	st := stateFor(seq, tag)
	if err := s.Create(st, seq); err != nil {
		t.Fatalf("Create(seq %d): %v", seq, err)
	}
	return st
}

func mustRestore(t testing.TB, s *minisnap.Store) (testState, uint64) {
	t.Helper()
	var got testState
	seq, err := s.Restore(&got)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return got, seq
}

func mustList(t testing.TB, s *minisnap.Store) []minisnap.Info {
	t.Helper()
	infos, err := s.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return infos
}

func seqsOf(infos []minisnap.Info) []uint64 {
	out := make([]uint64, len(infos))
	for i, in := range infos {
		out[i] = in.Seq
	}
	return out
}

// readAll, writeAll and remove edit files of a test file system directly.
func readAll(t testing.TB, fsys vfs.FS, path string) []byte {
	t.Helper()
	b, err := vfs.ReadFile(fsys, path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func writeAll(t testing.TB, fsys vfs.FS, path string, data []byte) {
	t.Helper()
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// tempEntries lists the names in dir that are temporary (".tmp-...").
func tempEntries(t testing.TB, fsys vfs.FS, dir string) []string {
	t.Helper()
	names, err := fsys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("ReadDir %s: %v", dir, err)
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, ".tmp-") {
			out = append(out, n)
		}
	}
	return out
}

// snapDir is the directory of the snapshot described by info.
func snapDir(info minisnap.Info) string { return filepath.Dir(info.Path) }

// reseal recomputes the metacrc32c of a meta.json from the rule in
// docs/FORMAT.md (the CRC-32C of the file with the field's 8 digits written
// as "00000000"), independently of the package's code, so a test can make
// an edit that only the state's checksum can catch.
func reseal(t testing.TB, b []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	key := regexp.MustCompile(`"metacrc32c":\s*"`)
	loc := key.FindIndex(b)
	if loc == nil {
		t.Fatalf("no metacrc32c in %s", b)
	}
	at := loc[1]
	copy(b[at:at+8], "00000000")
	copy(b[at:at+8], fmt.Sprintf("%08x", crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))))
	return b
}

// unseal removes the metacrc32c field from a meta.json written by Create,
// giving what a release before the field wrote.
func unseal(t testing.TB, b []byte) []byte {
	t.Helper()
	out := regexp.MustCompile(`,\n\s*"metacrc32c": "[0-9a-f]{8}"`).ReplaceAll(b, nil)
	if bytes.Equal(out, b) {
		t.Fatalf("no metacrc32c in %s", b)
	}
	return out
}
