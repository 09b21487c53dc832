// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/internal/crashtest"
	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// queueLedger is what a test's producers and consumer saw acknowledged.
type queueLedger struct {
	mu     sync.Mutex
	pushed map[uint64]int  // seq -> value, Push returned
	acked  map[uint64]bool // seq -> resolved: true acked, false moved to the dead-letter queue
	// acking holds the seqs whose Ack was called (returned or not). An
	// Ack's record is durable before it returns, and the Ack then takes
	// a checkpoint (two TruncateFronts) before returning: a copy made
	// meanwhile holds the ack, as a crash then would.
	acking map[uint64]bool
}

func (l *queueLedger) snapshot() (map[uint64]int, map[uint64]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.pushed), maps.Clone(l.acked)
}

func (l *queueLedger) ackingNow() map[uint64]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.acking)
}

// drain opens the queue copy in dir, checks that it opened without a
// repair, and receives and acks every message it delivers to consumer
// "c"; it returns the deliveries (seq -> value) and the dead letters'
// seqs.
//
// It waits up to a second for each message while fewer than expect have
// come, then wait for one more (expect < 0: as many as the queue's Len).
func drain(t *testing.T, fsys vfs.FS, dir string, expect int, wait time.Duration) (map[uint64]int, map[uint64]bool) {
	t.Helper()
	for _, j := range []string{messagesFile, consumersFile} {
		s, err := ministore.Open[struct{}](filepath.Join(dir, j), &ministore.Options{FS: fsys, Schema: ministore.AnySchema,
			AllowUnknownFields: true, Logger: testutil.Quiet()})
		if err != nil {
			t.Fatalf("open the copy's %s: %v", j, err)
		}
		if s.TornTail() != nil {
			t.Fatalf("the copy's %s needed a repair: %+v", j, s.TornTail())
		}
		s.Close()
	}
	q, err := Open[int](dir, withFS(Options{}, fsys))
	if err != nil {
		t.Fatalf("open the restored copy: %v", err)
	}
	defer q.Close()
	if expect < 0 {
		expect = q.Len() // the messages consumer "c" has not resolved
	}
	got := map[uint64]int{}
	c := q.Consumer("c")
	for {
		d := wait
		if len(got) < expect {
			d = time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		m, err := c.Receive(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break // nothing more to deliver
		}
		if err != nil {
			t.Fatalf("receive from the restored copy: %v", err)
		}
		if _, dup := got[m.Seq]; dup {
			t.Fatalf("message %d delivered twice by the copy", m.Seq)
		}
		got[m.Seq] = m.Value
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	dead := map[uint64]bool{}
	for dl, err := range q.DeadLetters().All() {
		if err != nil {
			t.Fatal(err)
		}
		dead[dl.Seq] = true
	}
	return got, dead
}

// TestBackupUnderLoad: Backup under load, 0 acknowledged pushes missing
// from any restored copy, and no ack undone. Producers push, a consumer
// acks (and moves every 7th message to the dead-letter queue) while
// three backups are taken; checkpoints cut both journals during the load.
func TestBackupUnderLoad(t *testing.T) {
	for _, live := range []bool{false, true} {
		t.Run(fmt.Sprintf("live=%v", live), func(t *testing.T) {
			dir := t.TempDir()
			q := openT[int](t, dir, &Options{MaxSegmentBytes: 2 << 10, consSegmentBytes: 2 << 10, checkpointBytes: 1 << 10})
			l := &queueLedger{pushed: map[uint64]int{}, acked: map[uint64]bool{}, acking: map[uint64]bool{}}
			var stop atomic.Bool
			var wg sync.WaitGroup
			for p := range 4 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						v := p*1_000_000 + i
						seq, err := q.Push(v)
						if err != nil {
							t.Errorf("Push: %v", err)
							return
						}
						l.mu.Lock()
						l.pushed[seq] = v
						l.mu.Unlock()
						time.Sleep(100 * time.Microsecond)
					}
				})
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wg.Go(func() {
				c := q.Consumer("c")
				for {
					m, err := c.Receive(ctx)
					if err != nil {
						return
					}
					ack := m.Seq%7 != 0
					if ack {
						l.mu.Lock()
						l.acking[m.Seq] = true
						l.mu.Unlock()
						err = m.Ack()
					} else {
						err = m.Term("test")
					}
					if err != nil {
						t.Errorf("resolve %d: %v", m.Seq, err)
						return
					}
					l.mu.Lock()
					l.acked[m.Seq] = ack
					l.mu.Unlock()
				}
			})
			pushedChecked, ackedChecked, deadChecked, tries := 0, 0, 0, 0
			for b := range 3 { // each copy is drained: about 2 s under -race
				time.Sleep(30 * time.Millisecond)
				pushed, resolved := l.snapshot()
				dst := filepath.Join(t.TempDir(), fmt.Sprintf("bk%d", b))
				var info BackupInfo
				var err error
				if live {
					info, err = Backup(dir, dst, nil)
				} else {
					info, err = q.Backup(dst)
				}
				if err != nil {
					t.Fatalf("backup %d: %v", b, err)
				}
				_, resolvedAfter := l.snapshot()
				ackingAfter := l.ackingNow()
				if info.Live != live || info.Path != dst {
					t.Fatalf("backup %d: %+v", b, info)
				}
				tries += info.Tries
				got, dead := drain(t, vfs.OS, dst, -1, 20*time.Millisecond)
				for seq, v := range got {
					if want, ok := pushed[seq]; ok && want != v {
						t.Fatalf("backup %d: message %d is %d, was pushed as %d", b, seq, v, want)
					}
				}
				for seq, v := range pushed {
					ack, wasResolved := resolved[seq]
					_, resolvedDuring := resolvedAfter[seq]
					// An Ack called before Backup returned may be in the
					// copy (its record was durable) though it had not
					// returned.
					resolvedDuring = resolvedDuring || ackingAfter[seq]
					_, delivered := got[seq]
					switch {
					case wasResolved && delivered:
						t.Fatalf("backup %d: message %d, resolved before the backup, delivered again", b, seq)
					case wasResolved && !ack && !dead[seq]:
						t.Fatalf("backup %d: message %d, moved to the dead-letter queue before the backup, is not in the copy's", b, seq)
					case !resolvedDuring && !delivered && !dead[seq]:
						t.Fatalf("backup %d: message %d (%d), pushed before the backup, missing from the copy", b, seq, v)
					}
					pushedChecked++
					if wasResolved {
						ackedChecked++
						if !ack {
							deadChecked++
						}
					}
				}
			}
			stop.Store(true)
			cancel()
			wg.Wait()
			t.Logf("3 backups under load: %d acknowledged pushes checked (0 missing), %d resolved before the copy (0 delivered again, %d dead letters kept); %d reads of the folder",
				pushedChecked, ackedChecked, deadChecked, tries)
		})
	}
}

// TestBackupAckInFlight: a live Backup taken while an Ack is in flight,
// its record durable but the call not returned (it is taking the
// checkpoint it triggered), holds the ack: the copy is the queue as a
// crash at that moment would leave it, and the message, still in the
// copy's message journal, is not delivered again; the next one is.
func TestBackupAckInFlight(t *testing.T) {
	mem := vfs.NewMem()
	fz := vfs.NewFaulty(mem)
	q := openT[int](t, "/q", &Options{FS: fz, checkpointBytes: 1})
	mustPush(t, q, 10, 20)
	m := recvT(t, q.Consumer("c"))
	reached, release := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	armed.Store(true)
	fz.FailWhen(func(op vfs.Op) error {
		// The consumer journal's new front bound (a new file renamed in
		// place, or a slot of it written and being fsync'd): the ack and
		// the checkpoint are durable, the truncations under way.
		front := "/q/" + consumersFile + ".front"
		if (op.Kind == vfs.OpRename && op.NewPath == front || op.Kind == vfs.OpSync && op.Path == front) &&
			armed.CompareAndSwap(true, false) {
			close(reached)
			<-release
		}
		return nil
	})
	acked := make(chan error, 1)
	go func() { acked <- m.Ack() }()
	select {
	case <-reached:
	case err := <-acked:
		t.Fatalf("Ack returned (%v) without a checkpoint", err)
	}
	info, err := Backup("/q", "/bk", &Options{FS: mem}) // beside the queue, on its disk
	select {
	case err := <-acked:
		t.Fatalf("Ack returned (%v) during the Backup", err)
	default:
	}
	close(release)
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !info.Live || info.Messages.First != 1 || info.Messages.Last != 2 {
		t.Fatalf("the copy: %+v", info)
	}
	got, dead := drain(t, mem, "/bk", -1, 20*time.Millisecond)
	if want := map[uint64]int{2: 20}; !maps.Equal(got, want) || len(dead) != 0 {
		t.Fatalf("the copy delivered %v (dead %v), want %v", got, dead, want)
	}
}

func TestBackupQueueClosed(t *testing.T) {
	mem := vfs.NewMem()
	q := openT[int](t, "/q", withFS(Options{}, mem))
	mustPush(t, q, 1, 2, 3)
	q.Close()
	if _, err := q.Backup("/bk"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Backup after Close = %v", err)
	}
	info, err := Backup("/q", "/bk", &Options{FS: mem})
	if err != nil || info.Live || info.Messages.Last != 3 || info.Dead != nil {
		t.Fatalf("Backup of a closed queue = %+v, %v", info, err)
	}
	if _, err := Backup("/q", "/bk", &Options{FS: mem}); !errors.Is(err, ministore.ErrBackupDestination) {
		t.Fatalf("Backup onto a copy = %v", err)
	}
}

// TestBackupQueueCrash cuts the power at every operation of a Backup of a
// queue with dead letters: the destination is missing or a whole copy.
func TestBackupQueueCrash(t *testing.T) {
	// The queue is built once and copied onto each crash's disk.
	template := backupTemplate(t, Options{})
	build := func(mem *vfs.Mem) { copyTree(t, template, mem, "/q") }
	check := func(disk vfs.FS, where string) {
		t.Helper()
		if ok, _ := vfs.Exists(disk, "/bk"); !ok {
			return
		}
		got, dead := drain(t, disk, "/bk", 2, 5*time.Millisecond)
		if len(got) != 2 || got[3] != 3 || got[4] != 4 || len(dead) != 1 || !dead[2] {
			t.Fatalf("%s: the copy delivers %v, dead letters %v", where, got, dead)
		}
	}
	crashtest.CrashSweep(t, 5, 5, func(c *crashtest.Crash) {
		build(c.Mem)
		_, err := Backup("/q", "/bk", &Options{FS: c.FS})
		if !c.Crashed(t, err) {
			check(c.Mem.CrashClone(vfs.CrashOptions{}), "no crash")
			return
		}
		disk := c.Disk()
		check(disk.CrashClone(vfs.CrashOptions{}), fmt.Sprintf("crash at op %d", c.K))
		if ok, _ := vfs.Exists(disk, "/bk"); ok {
			return
		}
		if _, err := Backup("/q", "/bk", &Options{FS: disk}); err != nil {
			t.Fatalf("crash at op %d: backup again: %v", c.K, err)
		}
		if c.K%4 == 0 || crashtest.Raised() { // (a copy of a queue never cut short is checked above)
			check(disk, fmt.Sprintf("crash at op %d, backup again", c.K))
		}
	})
}

// copyTree copies the folder dir of src, durably, to dst.
func copyTree(t *testing.T, src, dst vfs.FS, dir string) {
	t.Helper()
	if err := vfs.MkdirAll(dst, dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names, err := src.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		info, err := src.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.IsDir() {
			copyTree(t, src, dst, p)
			continue
		}
		b, err := vfs.ReadFile(src, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := backup.WriteFile(dst, p, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
}

// A checkpoint that cuts the message journal's front between the copies of
// the two journals: Queue.Backup holds it off, the live Backup reads the
// folder again. Either way the copy's consumer state finds every message
// it has not resolved (a copy without them fails Receive).
func TestBackupCheckpointBetween(t *testing.T) {
	for _, live := range []bool{false, true} {
		t.Run(fmt.Sprintf("live=%v", live), func(t *testing.T) {
			mem := vfs.NewMem()
			q := openT[int](t, "/q", withFS(Options{MaxSegmentBytes: 200, consSegmentBytes: 1 << 20, checkpointBytes: 1 << 30}, mem))
			for i := 1; i <= 40; i++ {
				mustPush(t, q, i)
			}
			c := q.Consumer("c")
			for range 5 {
				mustAck(t, recvT(t, c))
			}
			checkpointed := false
			testBackupBetween = func() {
				testBackupBetween = nil
				for range 25 {
					mustAck(t, recvT(t, c))
				}
				if q.e.cpRun.TryLock() {
					if err := q.e.checkpointLocked(); err != nil {
						t.Error(err)
					}
					q.e.cpRun.Unlock()
					checkpointed = true
				}
			}
			defer func() { testBackupBetween = nil }()
			var info BackupInfo
			var err error
			if live {
				info, err = Backup("/q", "/bk", &Options{FS: mem})
			} else {
				info, err = q.Backup("/bk")
			}
			if err != nil {
				t.Fatal(err)
			}
			if first := q.e.msgs.FirstSeq(); checkpointed && first <= 6 {
				t.Fatalf("the checkpoint did not cut the messages (first %d): the test tests nothing", first)
			}
			got, _ := drain(t, mem, "/bk", 10, 20*time.Millisecond)
			for i := uint64(31); i <= 40; i++ {
				if got[i] != int(i) {
					t.Fatalf("message %d not delivered by the copy: %v", i, got)
				}
			}
			t.Logf("checkpoint between the copies: %v; %d reads of the folder; the copy delivered %d messages (from %d)",
				checkpointed, info.Tries, len(got), info.Messages.First)
		})
	}
}
