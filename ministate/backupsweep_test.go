// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"fmt"
	"testing"

	"github.com/mini-go/mini/internal/crashtest"
	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/vfs"
)

// buildTape writes a state folder /s on fsys: pushes 0..7, a snapshot and
// compaction after 5, and closes it.
func buildTape(t *testing.T, fsys vfs.FS, o ministate.Options) {
	t.Helper()
	o.MaxSegmentBytes = 300
	m := mustOpen[Tape, Push](t, "/s", "tape.log", memOptions(fsys, o))
	for i := range 8 {
		mustApply(t, m, Push{i})
		if i == 5 {
			if _, err := m.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkTapeCopy opens the copy /bk on fsys and checks it holds 0..7.
func checkTapeCopy(t *testing.T, fsys vfs.FS, where string) {
	t.Helper()
	m, err := ministate.Open[Tape, Push]("/bk", "tape.log", memOptions(fsys, ministate.Options{}))
	if err != nil {
		t.Fatalf("%s: the copy does not open: %v", where, err)
	}
	defer m.Close()
	var items []int
	m.View(func(s *Tape) { items = append(items, s.Items...) })
	if len(items) != 8 || items[0] != 0 || items[7] != 7 {
		t.Fatalf("%s: the copy holds %v", where, items)
	}
}

// TestBackupErrorSweep fails each file-system operation of a Backup in
// turn: the error is returned, the destination never looks like a whole
// copy after a failed Backup (running on, or after a power loss), and a
// second Backup to it succeeds.
func TestBackupErrorSweep(t *testing.T) {
	for _, kind := range []string{"manager", "folder"} {
		t.Run(kind, func(t *testing.T) {
			crashtest.ErrorSweep(t, func(in *crashtest.Injection) {
				buildTape(t, in.Mem, ministate.Options{})
				var err error
				if kind == "manager" {
					var m *ministate.Manager[Tape, Push]
					m, err = ministate.Open[Tape, Push]("/s", "tape.log", memOptions(in.FS, ministate.Options{MaxSegmentBytes: 300}))
					if err == nil {
						_, err = m.Backup("/bk")
						m.Close()
					}
				} else {
					_, err = ministate.Backup("/s", "tape.log", "/bk", &ministate.Options{FS: in.FS})
				}
				if !in.Reached(t, err) || err == nil {
					checkTapeCopy(t, in.Mem, fmt.Sprintf("op %d (%v) failed, Backup returned nil", in.K, in.Op()))
					return
				}
				where := fmt.Sprintf("op %d (%v) failed: %v", in.K, in.Op(), err)
				powerLoss := testutil.FailedBackupNotWhole(t, in.Mem, "/bk", where)
				for _, disk := range []vfs.FS{in.Mem, powerLoss} {
					if _, err := ministate.Backup("/s", "tape.log", "/bk", &ministate.Options{FS: disk}); err != nil {
						t.Fatalf("%s: backup again: %v", where, err)
					}
					checkTapeCopy(t, disk, where+", backup again")
				}
			})
		})
	}
}

// The progress of a Backup counts the snapshot's files, then the
// journal's: done ends equal to total and to the bytes of the copy (but
// the journal's front bound, which is not counted).
func TestBackupProgress(t *testing.T) {
	for _, kind := range []string{"manager", "folder"} {
		t.Run(kind, func(t *testing.T) {
			mem := vfs.NewMem()
			buildTape(t, mem, ministate.Options{})
			var p testutil.Progress
			var info ministate.BackupInfo
			var err error
			if kind == "manager" {
				m := mustOpen[Tape, Push](t, "/s", "tape.log", memOptions(mem, ministate.Options{MaxSegmentBytes: 300, BackupProgress: p.Report}))
				info, err = m.Backup("/bk")
				if cerr := m.Close(); err == nil {
					err = cerr
				}
			} else {
				info, err = ministate.Backup("/s", "tape.log", "/bk", &ministate.Options{FS: mem, BackupProgress: p.Report})
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.SnapshotSeq == 0 || info.Journal.Bytes == 0 {
				t.Fatalf("BackupInfo %+v: want a snapshot and a journal", info)
			}
			copied := testutil.TreeBytes(t, mem, "/bk", "tape.log.front")
			p.Check(t, copied)
			snapBytes := copied - info.Journal.Bytes
			if p.Total[0] != snapBytes {
				t.Fatalf("first report: total %d, want the snapshot's %d bytes", p.Total[0], snapBytes)
			}
			checkTapeCopy(t, mem, kind)
		})
	}
}
