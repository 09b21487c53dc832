// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// The group-commit leader frames big payloads without copying them and
// joins checksums computed by their writers; the file must hold exactly the
// lines appendLine writes, in both formats, whatever mix of small and big
// payloads a batch carries.
func TestFramedLinesMatchAppendLine(t *testing.T) {
	sizes := []int{0, 10, bigPayload - 30, bigPayload, bigPayload + 1, 3 << 10, 70 << 10, 5}
	for _, format := range []Format{FormatV1, FormatPlain} {
		for _, batch := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/batch=%v", format, batch), func(t *testing.T) {
				mem := vfs.NewMem()
				s, err := Open[kv]("/d/j.log", quietOptions(Options{Format: format}, mem))
				if err != nil {
					t.Fatal(err)
				}
				var recs []kv
				for i, n := range sizes {
					recs = append(recs, kv{K: strings.Repeat(string(rune('a'+i)), n), V: i})
				}
				if batch {
					if _, _, err := s.AppendBatch(recs...); err != nil {
						t.Fatal(err)
					}
				} else {
					for _, r := range recs {
						if _, err := s.Append(r); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				want := appendSchemaHeader(nil, format, 1, "")
				for i, r := range recs {
					p, _ := json.Marshal(r)
					synced := uint64(i) // every Append made the one before durable
					if batch {
						synced = 0
					}
					want = appendLine(want, format, uint64(i+1), synced, p)
				}
				got, err := vfs.ReadFile(mem, "/d/j.log")
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("file differs from appendLine's lines:\n got %.300q\nwant %.300q", got, want)
				}
			})
		}
	}
}

// A batch is one write. A big batch (bigBatch bytes or more) grows the
// file: no zeros are written in its writer's path. A small one first
// extends the preallocated zeros by a step.
func TestBatchIsOneWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		recs     int
		pad      int
		prealloc bool // whether a preallocation step is written first
	}{
		{"small records", 3, 10, true},
		{"big records, small batch", 3, 4 << 10, true},
		{"big batch", 20, 4 << 10, false},
		{"1 MiB record", 1, 1 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := vfs.NewFaulty(vfs.NewMem())
			s, err := Open[kv]("/d/j.log", quietOptions(Options{}, fsys))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var mu sync.Mutex
			writes := 0
			fsys.FailWhen(func(op vfs.Op) error {
				mu.Lock()
				if op.Kind == vfs.OpWrite {
					writes++
				}
				mu.Unlock()
				return nil
			})
			recs := make([]kv, tc.recs)
			for i := range recs {
				recs[i] = kv{K: strings.Repeat("x", tc.pad), V: i}
			}
			if _, _, err := s.AppendBatch(recs...); err != nil {
				t.Fatal(err)
			}
			steps := s.Stats().PreallocSteps
			zeroWrites := int(preallocStep / int64(len(zeros)))
			switch {
			case tc.prealloc && (steps != 1 || writes != 1+zeroWrites):
				t.Fatalf("%d writes, %d preallocation steps; want 1 step of %d writes of zeros, then 1 write", writes, steps, zeroWrites)
			case !tc.prealloc && (steps != 0 || writes != 1):
				t.Fatalf("%d writes, %d preallocation steps; want 1 write and no preallocation", writes, steps)
			}
		})
	}
}
