// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"fmt"
	"testing"

	"github.com/mini-go/mini/internal/crashtest"
	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/vfs"
)

// buildBackupSource writes n records into /src/j.log on fsys, across
// segments of 512 bytes, and closes it.
func buildBackupSource(t *testing.T, fsys vfs.FS, n int) {
	t.Helper()
	s, err := Open[kv]("/src/j.log", quietOptions(Options{MaxSegmentBytes: 512}, fsys))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := s.Append(kv{V: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkBackupCopy opens the copy /bk/j.log on fsys and checks it holds
// records 0..n-1 at 1..n.
func checkBackupCopy(t *testing.T, fsys vfs.FS, n int, where string) {
	t.Helper()
	s, err := Open[kv]("/bk/j.log", quietOptions(Options{}, fsys))
	if err != nil {
		t.Fatalf("%s: the copy does not open: %v", where, err)
	}
	defer s.Close()
	if s.FirstSeq() != 1 || s.LastSeq() != uint64(n) || s.TornTail() != nil {
		t.Fatalf("%s: the copy holds %d..%d (torn %v), want 1..%d", where, s.FirstSeq(), s.LastSeq(), s.TornTail(), n)
	}
	i := 0
	for rec, err := range s.All(1) {
		if err != nil || rec.Value.V != i {
			t.Fatalf("%s: record %d = %+v, %v", where, rec.Seq, rec.Value, err)
		}
		i++
	}
}

// TestBackupErrorSweep fails each file-system operation of a Backup in
// turn (EIO or ENOSPC): the error is returned (wrapping the injected
// one), the destination never looks like a whole copy after a failed
// Backup, in the running process or after a power loss, and a second
// Backup to the same destination succeeds.
func TestBackupErrorSweep(t *testing.T) {
	const n = 40
	for _, kind := range []string{"store", "path"} {
		t.Run(kind, func(t *testing.T) {
			crashtest.ErrorSweep(t, func(in *crashtest.Injection) {
				buildBackupSource(t, in.Mem, n)
				var err error
				if kind == "store" {
					var s *Store[kv]
					s, err = Open[kv]("/src/j.log", quietOptions(Options{MaxSegmentBytes: 512}, in.FS))
					if err == nil {
						_, err = s.Backup("/bk")
						s.Close() // a failed Open's or Backup's store may refuse to close cleanly
					}
				} else {
					_, err = Backup("/src/j.log", "/bk", &Options{FS: in.FS})
				}
				if !in.Reached(t, err) || err == nil {
					checkBackupCopy(t, in.Mem, n, fmt.Sprintf("op %d (%v) failed, Backup returned nil", in.K, in.Op()))
					return
				}
				where := fmt.Sprintf("op %d (%v) failed: %v", in.K, in.Op(), err)
				powerLoss := testutil.FailedBackupNotWhole(t, in.Mem, "/bk", where)
				for _, disk := range []vfs.FS{in.Mem, powerLoss} {
					if _, err := Backup("/src/j.log", "/bk", &Options{FS: disk}); err != nil {
						t.Fatalf("%s: backup again: %v", where, err)
					}
					checkBackupCopy(t, disk, n, where+", backup again")
				}
			})
		})
	}
}

func TestBackupProgress(t *testing.T) {
	const n = 200
	for _, kind := range []string{"store", "path"} {
		t.Run(kind, func(t *testing.T) {
			mem := vfs.NewMem()
			buildBackupSource(t, mem, n)
			var p testutil.Progress
			var info BackupInfo
			var err error
			if kind == "store" {
				s, oerr := Open[kv]("/src/j.log", quietOptions(Options{MaxSegmentBytes: 512, BackupProgress: p.Report}, mem))
				if oerr != nil {
					t.Fatal(oerr)
				}
				info, err = s.Backup("/bk")
				if cerr := s.Close(); err == nil {
					err = cerr
				}
			} else {
				info, err = Backup("/src/j.log", "/bk", &Options{FS: mem, BackupProgress: p.Report})
			}
			if err != nil {
				t.Fatal(err)
			}
			copied := testutil.TreeBytes(t, mem, "/bk")
			if copied != info.Bytes || info.Files < 3 {
				t.Fatalf("the copy has %d bytes, BackupInfo %+v", copied, info)
			}
			p.Check(t, copied)
			// The total is known from the first report: the files are noted at once.
			if p.Total[0] != copied {
				t.Fatalf("first report: total %d, want %d", p.Total[0], copied)
			}
			checkBackupCopy(t, mem, n, kind)
		})
	}
}
