// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
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
// file: no zeros are written in its writer's path. A small one that does
// not fit in the preallocated space (here: the first after Open) first
// extends it by a step. Nothing is written after the batch's fsync.
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
			s := openT[kv](t, "/d/j.log", quietOptions(Options{}, fsys))
			var mu sync.Mutex
			var ops []vfs.OpKind
			fsys.FailWhen(func(op vfs.Op) error {
				mu.Lock()
				if op.Kind == vfs.OpWrite || op.Kind == vfs.OpSync {
					ops = append(ops, op.Kind)
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
			mu.Lock()
			defer mu.Unlock()
			// ops: the writes before the batch's fsync, the fsync.
			before := slices.Index(ops, vfs.OpSync)
			if before < 0 {
				t.Fatalf("no fsync: %v", ops)
			}
			steps := s.Stats().PreallocSteps
			zeroWrites := int(preallocStep / int64(len(zeros)))
			wantBefore, wantSteps := 1, uint64(0)
			if tc.prealloc {
				wantBefore += zeroWrites
				wantSteps++
			}
			if before != wantBefore {
				t.Fatalf("%d writes before the batch's fsync, want %d (preallocation step first: %v)", before, wantBefore, tc.prealloc)
			}
			if after := ops[before+1:]; len(after) != 0 {
				t.Fatalf("after the batch's fsync: %v; want nothing", after)
			}
			if steps != wantSteps {
				t.Fatalf("%d preallocation steps, want %d", steps, wantSteps)
			}
		})
	}
}
