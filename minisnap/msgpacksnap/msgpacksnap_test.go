// SPDX-License-Identifier: MIT OR Apache-2.0

package msgpacksnap_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/msgpacksnap"
)

// copyFixtures copies the named files of testdata/rust-rmp into a new
// directory (the originals stay as they are).
func copyFixtures(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(fixtureDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func open(t *testing.T, dir string, codec minisnap.Codec) *minisnap.Store {
	t.Helper()
	s, err := minisnap.Open(dir, &minisnap.Options{Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const (
	snap10 = "snapshot_00000000000000000010"
	snap25 = "snapshot_00000000000000000025"
)

func TestRestoreRustSnapshots(t *testing.T) {
	dir := copyFixtures(t, snap10)
	s := open(t, dir, msgpacksnap.New())
	var got appState
	seq, err := s.Restore(&got)
	if err != nil || seq != 10 || got != (appState{42, "hello"}) {
		t.Fatalf("Restore = %d, %+v, %v", seq, got, err)
	}
	infos, err := s.List()
	if err != nil || len(infos) != 1 {
		t.Fatalf("List = %+v, %v", infos, err)
	}
	if i := infos[0]; !i.Legacy || i.Codec != "msgpack" || i.Path != filepath.Join(dir, snap10) || i.Size != 10 || i.Err != nil {
		t.Fatalf("Info %+v", i)
	}

	// Go's own snapshots come after it, in MessagePack with a checksum;
	// Keep never removes the crate's file.
	for seq := uint64(11); seq <= 13; seq++ {
		if err := s.Create(appState{seq, "go"}, seq); err != nil {
			t.Fatal(err)
		}
	}
	if seq, err := s.Restore(&got); err != nil || seq != 13 || got != (appState{13, "go"}) {
		t.Fatalf("Restore after Create = %d, %+v, %v", seq, got, err)
	}
	infos, err = s.List()
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, i := range infos {
		seqs = append(seqs, i.Seq)
	}
	if !slices.Equal(seqs, []uint64{13, 12, 10}) || infos[0].Legacy || infos[0].Codec != "msgpack" || filepath.Base(infos[0].Path) != "snapshot.msgpack" {
		t.Fatalf("List after Create: %v, %+v", seqs, infos[0])
	}
	if _, err := os.Stat(filepath.Join(dir, snap10)); err != nil {
		t.Fatalf("the crate's file is gone: %v", err)
	}
}

// Without the codec the crate's MessagePack files are still listed, and
// restoring one fails with ErrCodec naming the file, rather than starting
// from an older snapshot (or none) without a word.
func TestWithoutCodecRefused(t *testing.T) {
	dir := copyFixtures(t, snap10)
	s := open(t, dir, nil)
	var got appState
	_, err := s.Restore(&got)
	if !errors.Is(err, minisnap.ErrCodec) || !bytes.Contains([]byte(err.Error()), []byte(snap10)) {
		t.Fatalf("Restore with the JSON codec: %v", err)
	}
	if _, _, err := s.RestoreLatestGood(&got); !errors.Is(err, minisnap.ErrCodec) {
		t.Fatalf("RestoreLatestGood with the JSON codec: %v", err)
	}
	infos, err := s.List()
	if err != nil || len(infos) != 1 || infos[0].Codec != "msgpack" || infos[0].Seq != 10 {
		t.Fatalf("List = %+v, %v", infos, err)
	}
}

func TestRestoreInventory(t *testing.T) {
	dir := copyFixtures(t, snap10, snap25)
	s := open(t, dir, msgpacksnap.New())
	var got inventory
	seq, err := s.Restore(&got)
	if err != nil || seq != 25 {
		t.Fatalf("Restore = %d, %v", seq, err)
	}
	want := inventoryState()
	// The enum decodes into an any; the variant's data as MessagePack gives it.
	want.Items[1].Mode = map[string]any{"Named": "printer-7"}
	want.Items[2].Mode = map[string]any{"Busy": []any{int8(3), int64(-1_700_000_000_000)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("restored\n%#v\nwant\n%#v", got, want)
	}
	// Into an any: arrays for the structs.
	var raw any
	if _, err := s.Restore(&raw); err != nil {
		t.Fatal(err)
	}
	if fields, ok := raw.([]any); !ok || len(fields) != 5 || fields[3] != true {
		t.Fatalf("as any: %#v", raw)
	}
}

// rustFile writes b as the crate's snapshot seq in a new directory.
func rustFile(t *testing.T, seq uint64, b []byte) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, fmt.Sprintf("snapshot_%020d", seq))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestDamage(t *testing.T) {
	good := []byte{0x92, 0x0a, 0x92, 0x2a, 0xa5, 'h', 'e', 'l', 'l', 'o'}
	tests := []struct {
		name   string
		seq    uint64
		b      []byte
		offset int64
	}{
		{"empty", 10, nil, 0},
		{"cut in the state", 10, good[:7], 7},
		{"cut after the seq", 10, good[:2], 2},
		{"byte after", 10, append(slices.Clone(good), 0xc0), 10},
		{"not an array", 10, []byte{0xa3, 'a', 'b', 'c'}, 0},
		{"three elements", 10, []byte{0x93, 0x0a, 0xc0, 0xc0}, 0},
		{"negative seq", 10, []byte{0x92, 0xff, 0xc0}, 1},
		{"seq a string", 10, []byte{0x92, 0xa1, '1', 0xc0}, 1},
		{"never-used code", 10, []byte{0x92, 0x0a, 0xc1}, 3},
		{"map without state", 10, []byte{0x81, 0xa3, 's', 'e', 'q', 0x0a}, 6},
		{"map key not a string", 10, []byte{0x82, 0x01, 0x0a, 0xa5, 's', 't', 'a', 't', 'e', 0xc0}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, path := rustFile(t, tt.seq, tt.b)
			s := open(t, dir, msgpacksnap.New())
			var got appState
			_, err := s.Restore(&got)
			ce, ok := errors.AsType[*minisnap.CorruptError](err)
			if !ok || ce.Path != path || ce.Offset != tt.offset || !errors.Is(err, minisnap.ErrCorrupt) {
				t.Fatalf("Restore: %v (%#v); want a CorruptError for %s at %d", err, ce, path, tt.offset)
			}
			if got != (appState{}) {
				t.Fatalf("state changed on error: %+v", got)
			}
		})
	}
	// A seq other than the file name's.
	dir, path := rustFile(t, 11, good)
	s := open(t, dir, msgpacksnap.New())
	var got appState
	if _, err := s.Restore(&got); !errors.Is(err, minisnap.ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(path)) {
		t.Fatalf("seq 10 in the file of 11: %v", err)
	}
}

// RestoreLatestGood passes over a damaged crate file to the one before.
func TestFallBackOverDamage(t *testing.T) {
	dir := copyFixtures(t, snap10)
	if err := os.WriteFile(filepath.Join(dir, "snapshot_00000000000000000012"), []byte{0x92, 0x0c, 0x92, 0x2a, 0xa5, 'h'}, 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, msgpacksnap.New())
	var got appState
	seq, skipped, err := s.RestoreLatestGood(&got)
	if err != nil || seq != 10 || got != (appState{42, "hello"}) || len(skipped) != 1 || skipped[0].Seq != 12 || skipped[0].Offset != 6 {
		t.Fatalf("RestoreLatestGood = %d, %+v, %v, %v", seq, got, skipped, err)
	}
}

// A state that parses but does not fit the Go type is a decode error, not
// corruption: RestoreLatestGood does not fall back over it.
func TestDecodeMismatch(t *testing.T) {
	dir, _ := rustFile(t, 10, []byte{0x92, 0x0a, 0x93, 0x2a, 0xa5, 'h', 'e', 'l', 'l', 'o', 0xc0})
	s := open(t, dir, msgpacksnap.New())
	var got appState
	_, _, err := s.RestoreLatestGood(&got)
	if err == nil || errors.Is(err, minisnap.ErrCorrupt) {
		t.Fatalf("three fields into two: %v", err)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	type nested struct {
		Name  string            `json:"name"`
		Tags  map[string]string `json:"tags"`
		Count int               `msgpack:"n"`
	}
	want := []nested{{"a", map[string]string{"k": "v"}, -3}, {"b", nil, 1 << 40}}
	var buf bytes.Buffer
	c := msgpacksnap.New()
	if err := c.Encode(&buf, want); err != nil {
		t.Fatal(err)
	}
	// Structs are maps keyed by the msgpack tag, else the json tag.
	for _, key := range []string{"name", "tags", "n"} {
		if !bytes.Contains(buf.Bytes(), append([]byte{0xa0 | byte(len(key))}, key...)) {
			t.Fatalf("no key %q in % x", key, buf.Bytes())
		}
	}
	var got []nested
	if err := c.Decode(&buf, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode = %+v, %v", got, err)
	}

	// Through a Store: Create, Restore.
	s := open(t, t.TempDir(), c)
	if err := s.Create(want, 4); err != nil {
		t.Fatal(err)
	}
	got = nil
	if seq, err := s.Restore(&got); err != nil || seq != 4 || !reflect.DeepEqual(got, want) {
		t.Fatalf("Restore = %d, %+v, %v", seq, got, err)
	}
}

// The named envelope {"seq": N, "state": ...} reads too, in any field order.
func TestSplitNumberedNamed(t *testing.T) {
	b := []byte{0x83, 0xa5, 's', 't', 'a', 't', 'e', 0x91, 0x07, 0xa1, 'x', 0xc0, 0xa3, 's', 'e', 'q', 0xcd, 0x01, 0x00}
	seq, state, _, err := msgpacksnap.New().SplitNumbered(b)
	if err != nil || seq != 256 || !bytes.Equal(state, []byte{0x91, 0x07}) {
		t.Fatalf("SplitNumbered = %d, % x, %v", seq, state, err)
	}
}

// A map with integer keys (a Rust HashMap<u32, String>) decodes into an
// any as a map[any]any, and into a typed map; string keys give a
// map[string]any.
func TestDecodeMapKeys(t *testing.T) {
	c := msgpacksnap.New()
	var v any
	if err := c.Decode(bytes.NewReader([]byte{0x92, 0x81, 0x01, 0xa1, 'a', 0x81, 0xa1, 'k', 0x02}), &v); err != nil {
		t.Fatal(err)
	}
	want := []any{map[any]any{int8(1): "a"}, map[string]any{"k": int8(2)}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("into an any: %#v, want %#v", v, want)
	}
	var m map[uint32]string
	if err := c.Decode(bytes.NewReader([]byte{0x81, 0x01, 0xa1, 'a'}), &m); err != nil || m[1] != "a" {
		t.Fatalf("into a typed map: %v, %v", m, err)
	}
}
