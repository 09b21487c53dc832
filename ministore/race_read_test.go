// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// A reader racing a writer in another process can see a batch's first page
// copied in part and its next page whole: zeros inside a sector before
// written bytes, which no crash leaves. Replay must read again before it
// calls that damage; damage that stays is still an error.
func TestReplayRacingAWrite(t *testing.T) {
	mem := vfs.NewMem()
	s, err := Open[kv]("/d/j.log", quietOptions(Options{NoPreallocate: true}, mem))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1, 10)
	appendBatch(t, s, "batch", 11, 150)
	s.Close()
	whole := readMemFile(t, mem, "/d/j.log")
	// What a read sees while the batch is being copied: its first page up
	// to 100 bytes in, its second page whole.
	x := int(lineOffset(whole, 12)) + 100
	racy := bytes.Clone(whole)
	clear(racy[x : (x/4096+1)*4096])

	for _, tc := range []struct {
		name  string
		racy  int64 // opens of j.log that see the racy bytes
		wantN int
	}{
		{"write in flight", 1, 160}, // one pass opens the file once
		{"damage that stays", 1 << 30, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := &racyFS{FS: mem, name: "/d/j.log", data: racy}
			fsys.left.Store(tc.racy)
			var got []int
			var rerr error
			records(fsys, "/d/j.log", 1, 0, nil, func(r Record[kv], err error) bool {
				if err != nil {
					rerr = err
					return false
				}
				got = append(got, r.Value.V)
				return true
			})
			if tc.wantN < 0 {
				if !errors.Is(rerr, ErrCorrupt) {
					t.Fatalf("Records = %d records, %v; want ErrCorrupt", len(got), rerr)
				}
				return
			}
			if rerr != nil || len(got) != tc.wantN {
				t.Fatalf("Records = %d records, %v; want %d", len(got), rerr, tc.wantN)
			}
			for i, v := range got {
				if v != i+1 {
					t.Fatalf("record %d has value %d", i+1, v)
				}
			}
		})
	}
}

// racyFS serves data for the first opens of name (left counts them down),
// then the real file.
type racyFS struct {
	vfs.FS
	name string
	data []byte
	left atomic.Int64
}

func (r *racyFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	if name == r.name && flag == os.O_RDONLY && r.left.Add(-1) >= 0 {
		return &bytesFile{Reader: bytes.NewReader(r.data), name: name}, nil
	}
	return r.FS.OpenFile(name, flag, perm)
}

// bytesFile is a read-only vfs.File over a byte slice.
type bytesFile struct {
	*bytes.Reader
	name string
}

func (f *bytesFile) Write([]byte) (int, error)          { return 0, fs.ErrPermission }
func (f *bytesFile) WriteAt([]byte, int64) (int, error) { return 0, fs.ErrPermission }
func (f *bytesFile) Close() error                       { return nil }
func (f *bytesFile) Sync() error                        { return nil }
func (f *bytesFile) Truncate(int64) error               { return fs.ErrPermission }
func (f *bytesFile) Size() (int64, error)               { return f.Reader.Size(), nil }
func (f *bytesFile) Name() string                       { return f.name }

var _ io.ReaderAt = (*bytesFile)(nil)
