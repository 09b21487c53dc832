// SPDX-License-Identifier: MIT OR Apache-2.0

package msgpacksnap_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/msgpacksnap"
	"github.com/vmihailenco/msgpack/v5"
)

// FuzzSplitNumbered: any bytes either split into a seq and a state that is
// exactly one MessagePack value lying inside the input, or fail with an
// offset inside the input; never a panic. Through a Store the failure is a
// *minisnap.CorruptError and the state is left alone.
func FuzzSplitNumbered(f *testing.F) {
	for _, n := range []string{snap10, snap25} {
		b, err := os.ReadFile(filepath.Join(fixtureDir, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{0x82, 0xa3, 's', 'e', 'q', 0x01, 0xa5, 's', 't', 'a', 't', 'e', 0xc0})
	f.Add([]byte{0xdc, 0xff, 0xff})
	f.Add([]byte{0x92, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff})
	c := msgpacksnap.New()
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, state, off, err := c.SplitNumbered(b)
		if err != nil {
			if off < 0 || off > int64(len(b)) {
				t.Fatalf("offset %d outside %d bytes: %v", off, len(b), err)
			}
			return
		}
		if len(state) == 0 || !bytes.Contains(b, state) {
			t.Fatalf("state % x not in the input % x", state, b)
		}
		r := bytes.NewReader(state)
		dec := msgpack.NewDecoder(r)
		if err := dec.Skip(); err != nil || r.Len() != 0 {
			t.Fatalf("state % x is not one value: %v, %d left", state, err, r.Len())
		}
		// Re-encoded as the crate writes it, the envelope splits the same.
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		enc.UseCompactInts(true)
		if err := enc.EncodeArrayLen(2); err != nil {
			t.Fatal(err)
		}
		if err := enc.EncodeUint(seq); err != nil {
			t.Fatal(err)
		}
		buf.Write(state)
		seq2, state2, _, err := c.SplitNumbered(buf.Bytes())
		if err != nil || seq2 != seq || !bytes.Equal(state2, state) {
			t.Fatalf("re-encoded: %d, % x, %v; want %d, % x", seq2, state2, err, seq, state)
		}

		// Through a Store: restore into an any, or a CorruptError.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "snapshot_00000000000000000007"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := minisnap.Open(dir, &minisnap.Options{Codec: c, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var v any
		_, err = s.Restore(&v)
		if seq != 7 && !errors.Is(err, minisnap.ErrCorrupt) {
			t.Fatalf("seq %d in the file of 7: %v", seq, err)
		}
	})
}
