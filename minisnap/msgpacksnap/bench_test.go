// SPDX-License-Identifier: MIT OR Apache-2.0

package msgpacksnap_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/msgpacksnap"
)

// BenchmarkRestoreRust restores a Rust crate's numbered snapshot of 10,000
// items, {seq, state} in MessagePack (RmpCodec's layout) and in JSON (the
// crate's JsonCodec, pretty), into the same Go type.
func BenchmarkRestoreRust(b *testing.B) {
	st := inventory{ByName: btreeMap{}}
	for i := range 10_000 {
		parent := uint64(i)
		st.Items = append(st.Items, item{ID: uint64(i), Tags: []string{"t", fmt.Sprint(i)}, Mode: "Idle", Parent: &parent})
		st.ByName[fmt.Sprint("n", i)] = uint32(i)
	}
	mp := rmpEncode(b, envelope{7, st})
	js, err := json.MarshalIndent(map[string]any{"seq": 7, "state": st}, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, file string
		data       []byte
	}{
		{"msgpack", "snapshot_00000000000000000007", mp},
		{"json", "snapshot_00000000000000000007.json", js},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), tc.data, 0o644); err != nil {
				b.Fatal(err)
			}
			s, err := minisnap.Open(dir, &minisnap.Options{Codec: msgpacksnap.New(), ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				var got inventory
				if seq, err := s.Restore(&got); err != nil || seq != 7 || len(got.Items) != 10_000 {
					b.Fatalf("Restore = %d, %d items, %v", seq, len(got.Items), err)
				}
			}
		})
	}
}
