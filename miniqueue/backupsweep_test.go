// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"fmt"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/crashtest"
	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/vfs"
)

// backupTemplate returns a disk holding the queue /q: 1..4 pushed, 1
// acked, 2 moved to the dead-letter queue.
func backupTemplate(t *testing.T, o Options) *vfs.Mem {
	t.Helper()
	mem := vfs.NewMem()
	q, err := Open[int]("/q", withFS(o, mem))
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, q, 1, 2, 3, 4)
	c := q.Consumer("c")
	mustAck(t, recvT(t, c))
	if err := recvT(t, c).Term("x"); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return mem
}

// checkQueueCopy drains the copy /bk on disk: 3 and 4 to deliver, 2 dead.
func checkQueueCopy(t *testing.T, disk vfs.FS, where string) {
	t.Helper()
	got, dead := drain(t, disk, "/bk", 2, 5*time.Millisecond)
	if len(got) != 2 || got[3] != 3 || got[4] != 4 || len(dead) != 1 || !dead[2] {
		t.Fatalf("%s: the copy delivers %v, dead letters %v", where, got, dead)
	}
}

// TestBackupErrorSweep fails each file-system operation of a Backup in
// turn: the error is returned, the destination never looks like a whole
// copy after a failed Backup (running on, or after a power loss), and a
// second Backup to it succeeds.
func TestBackupErrorSweep(t *testing.T) {
	template := backupTemplate(t, Options{})
	for _, kind := range []string{"queue", "folder"} {
		t.Run(kind, func(t *testing.T) {
			crashtest.ErrorSweep(t, func(in *crashtest.Injection) {
				copyTree(t, template, in.Mem, "/q")
				var err error
				if kind == "queue" {
					var q *Queue[int]
					q, err = Open[int]("/q", withFS(Options{}, in.FS))
					if err == nil {
						_, err = q.Backup("/bk")
						q.Close()
					}
				} else {
					_, err = Backup("/q", "/bk", &Options{FS: in.FS})
				}
				// Draining a copy takes a while: every 8th run drains, every
				// run at a raised MINI_CRASH_VARIANTS.
				drainIt := in.K%8 == 0 || crashtest.Raised()
				if !in.Reached(t, err) || err == nil {
					if !testutil.BackupLooksWhole(t, in.Mem, "/bk") {
						t.Fatalf("op %d (%v) failed, Backup returned nil without a whole /bk", in.K, in.Op())
					}
					if drainIt || in.Op().N == 0 {
						checkQueueCopy(t, in.Mem.CrashClone(vfs.CrashOptions{}), fmt.Sprintf("op %d (%v) failed, Backup returned nil", in.K, in.Op()))
					}
					return
				}
				where := fmt.Sprintf("op %d (%v) failed: %v", in.K, in.Op(), err)
				powerLoss := testutil.FailedBackupNotWhole(t, in.Mem, "/bk", where)
				disks := []*vfs.Mem{in.Mem}
				if in.K%4 == 0 || crashtest.Raised() || hasDir(t, powerLoss, "/bk") {
					disks = append(disks, powerLoss) // every 4th run, and every one that left a /bk behind
				}
				for _, disk := range disks {
					if _, err := Backup("/q", "/bk", &Options{FS: disk}); err != nil {
						t.Fatalf("%s: backup again: %v", where, err)
					}
					if drainIt {
						checkQueueCopy(t, disk.CrashClone(vfs.CrashOptions{}), where+", backup again")
					}
				}
			})
		})
	}
}

// The progress of a Backup counts the consumer journal, the messages and
// the dead-letter queue's: done ends equal to total and to the bytes of
// the copy (but the journals' front bounds, which are not counted).
func TestBackupProgress(t *testing.T) {
	template := backupTemplate(t, Options{})
	for _, kind := range []string{"queue", "folder"} {
		t.Run(kind, func(t *testing.T) {
			mem := vfs.NewMem()
			copyTree(t, template, mem, "/q")
			var p testutil.Progress
			var info BackupInfo
			var err error
			if kind == "queue" {
				q, oerr := Open[int]("/q", withFS(Options{BackupProgress: p.Report}, mem))
				if oerr != nil {
					t.Fatal(oerr)
				}
				info, err = q.Backup("/bk")
				if cerr := q.Close(); err == nil {
					err = cerr
				}
			} else {
				info, err = Backup("/q", "/bk", &Options{FS: mem, BackupProgress: p.Report})
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Dead == nil {
				t.Fatalf("BackupInfo %+v: no dead-letter queue", info)
			}
			copied := testutil.TreeBytes(t, mem, "/bk", messagesFile+".front", consumersFile+".front")
			want := info.Messages.Bytes + info.Consumers.Bytes + info.Dead.Messages.Bytes + info.Dead.Consumers.Bytes
			if copied != want {
				t.Fatalf("the copy has %d bytes, BackupInfo says %d", copied, want)
			}
			p.Check(t, copied)
			checkQueueCopy(t, mem.CrashClone(vfs.CrashOptions{}), kind)
		})
	}
}

func hasDir(t *testing.T, fsys vfs.FS, dir string) bool {
	t.Helper()
	ok, err := vfs.Exists(fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
