// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/crashtest"
	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// checkRestoredTape opens the copy in dir as a restore does and checks
// that every value in acked (by sequence number) is on the tape at its
// place, once; it returns how many it checked.
func checkRestoredTape(t *testing.T, fsys vfs.FS, dir string, info ministate.BackupInfo, acked map[uint64]int) int {
	t.Helper()
	// The journal opens without a repair.
	j, err := ministore.Open[json.RawMessage](filepath.Join(dir, "tape.log"), &ministore.Options{FS: fsys, Schema: ministore.AnySchema, Logger: testutil.Quiet()})
	if err != nil {
		t.Fatalf("open the copy's journal: %v", err)
	}
	if j.TornTail() != nil {
		t.Fatalf("the copy's journal needed a repair: %+v", j.TornTail())
	}
	j.Close()
	m, err := ministate.Open[Tape, Push](dir, "tape.log", memOptions(fsys, ministate.Options{}))
	if err != nil {
		t.Fatalf("open the restored copy: %v", err)
	}
	defer m.Close()
	if m.Sequence() != info.Seq {
		t.Fatalf("the copy is at %d, Backup said %d", m.Sequence(), info.Seq)
	}
	var items []int
	m.View(func(s *Tape) { items = append(items, s.Items...) })
	if uint64(len(items)) != info.Seq {
		t.Fatalf("the copy's tape holds %d values at record %d", len(items), info.Seq)
	}
	seen := map[int]bool{}
	for _, v := range items {
		if seen[v] {
			t.Fatalf("value %d twice on the copy's tape", v)
		}
		seen[v] = true
	}
	missing := 0
	for seq, v := range acked {
		if seq > uint64(len(items)) || items[seq-1] != v {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged mutations missing from the copy", missing, len(acked))
	}
	return len(acked)
}

// TestBackupUnderLoad: Backup under load, 0 acknowledged mutations missing
// from any restored copy, while automatic snapshots and Compact run.
func TestBackupUnderLoad(t *testing.T) {
	for _, live := range []bool{false, true} {
		t.Run(fmt.Sprintf("live=%v", live), func(t *testing.T) {
			dir := t.TempDir()
			m := mustOpen[Tape, Push](t, dir, "tape.log", &ministate.Options{
				Logger: testutil.Quiet(), SnapshotEvery: 150, MaxSegmentBytes: 4 << 10})
			defer m.Close()
			var mu sync.Mutex
			acked := map[uint64]int{}
			var stop atomic.Bool
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						v := w*1_000_000 + i
						seq, err := m.Apply(Push{v})
						if err != nil {
							t.Errorf("Apply: %v", err)
							return
						}
						mu.Lock()
						acked[seq] = v
						mu.Unlock()
					}
				})
			}
			wg.Go(func() {
				for !stop.Load() {
					time.Sleep(7 * time.Millisecond)
					if _, err := m.Compact(); err != nil {
						t.Errorf("Compact: %v", err)
						return
					}
				}
			})
			checked, tries, snaps := 0, 0, 0
			for b := range 4 {
				time.Sleep(25 * time.Millisecond)
				mu.Lock()
				before := make(map[uint64]int, len(acked))
				for k, v := range acked {
					before[k] = v
				}
				mu.Unlock()
				dst := filepath.Join(t.TempDir(), fmt.Sprintf("bk%d", b))
				var info ministate.BackupInfo
				var err error
				if live {
					info, err = ministate.Backup(dir, "tape.log", dst, nil)
				} else {
					info, err = m.Backup(dst)
				}
				if err != nil {
					t.Fatalf("backup %d: %v", b, err)
				}
				if info.Live != live || info.Path != dst {
					t.Fatalf("backup %d: %+v", b, info)
				}
				if info.SnapshotSeq > 0 {
					snaps++
				}
				checked += checkRestoredTape(t, vfs.OS, dst, info, before)
				tries += info.Tries
			}
			stop.Store(true)
			wg.Wait()
			t.Logf("4 backups under load (%d with a snapshot): %d acknowledged mutations checked, 0 missing; %d reads of the folder; %d mutations applied",
				snaps, checked, tries, m.Sequence())
		})
	}
}

func TestBackupClosed(t *testing.T) {
	mem := vfs.NewMem()
	m := mustOpen[Tape, Push](t, "/s", "tape.log", memOptions(mem, ministate.Options{}))
	mustApply(t, m, Push{1}, Push{2})
	if _, err := m.Backup("/s"); !errors.Is(err, ministore.ErrBackupDestination) {
		t.Fatalf("Backup into the folder itself = %v", err)
	}
	m.Close()
	if _, err := m.Backup("/bk"); !errors.Is(err, ministate.ErrClosed) {
		t.Fatalf("Backup after Close = %v", err)
	}
	if _, err := ministate.Backup("/none", "tape.log", "/bk", &ministate.Options{FS: mem}); err == nil {
		t.Fatal("Backup of a missing folder succeeded")
	}
	info, err := ministate.Backup("/s", "tape.log", "/bk", &ministate.Options{FS: mem})
	if err != nil || info.Live || info.Seq != 2 || info.SnapshotSeq != 0 {
		t.Fatalf("Backup of a closed folder = %+v, %v", info, err)
	}
}

// TestBackupCrash cuts the power at every operation of a Backup: the
// destination is missing or a whole copy that opens to the state.
func TestBackupCrash(t *testing.T) {
	build := func(fsys vfs.FS) { buildTape(t, fsys, ministate.Options{}) }
	check := func(disk vfs.FS, where string) {
		t.Helper()
		if ok, _ := vfs.Exists(disk, "/bk"); !ok {
			return
		}
		m, err := ministate.Open[Tape, Push]("/bk", "tape.log", memOptions(disk, ministate.Options{}))
		if err != nil {
			t.Fatalf("%s: the copy does not open: %v", where, err)
		}
		defer m.Close()
		var items []int
		m.View(func(s *Tape) { items = append(items, s.Items...) })
		if len(items) != 8 || items[7] != 7 || items[0] != 0 {
			t.Fatalf("%s: the copy holds %v", where, items)
		}
	}
	for _, kind := range []string{"manager", "folder"} {
		t.Run(kind, func(t *testing.T) {
			crashtest.CrashSweep(t, 3, uint64(len(kind)), func(c *crashtest.Crash) {
				build(c.Mem)
				var err error
				if kind == "manager" {
					var m *ministate.Manager[Tape, Push]
					m, err = ministate.Open[Tape, Push]("/s", "tape.log", memOptions(c.FS, ministate.Options{MaxSegmentBytes: 300}))
					if err == nil {
						_, err = m.Backup("/bk")
						if cerr := m.Close(); err == nil {
							err = cerr
						}
					}
				} else {
					_, err = ministate.Backup("/s", "tape.log", "/bk", &ministate.Options{FS: c.FS})
				}
				if !c.Crashed(t, err) {
					check(c.Mem, "no crash")
					return
				}
				disk := c.Disk()
				check(disk, fmt.Sprintf("crash at op %d", c.K))
				if ok, _ := vfs.Exists(disk, "/bk"); ok {
					return
				}
				if _, err := ministate.Backup("/s", "tape.log", "/bk", &ministate.Options{FS: disk}); err != nil {
					t.Fatalf("crash at op %d: backup again: %v", c.K, err)
				}
				check(disk, fmt.Sprintf("crash at op %d, backup again", c.K))
			})
		})
	}
}

// A compaction between the copies of the snapshot and of the journal in a
// live Backup: the journal no longer continues the snapshot copied, and
// Backup reads the folder again rather than publish a copy that does not
// open.
func TestBackupCompactBetween(t *testing.T) {
	mem := vfs.NewMem()
	m := mustOpen[Tape, Push](t, "/s", "tape.log", memOptions(mem, ministate.Options{MaxSegmentBytes: 200}))
	defer m.Close()
	for i := range 20 {
		mustApply(t, m, Push{i})
	}
	if _, err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	for i := 20; i < 30; i++ {
		mustApply(t, m, Push{i})
	}
	ministate.SetTestBackupBetween(func() {
		ministate.SetTestBackupBetween(nil)
		for i := 30; i < 60; i++ {
			mustApply(t, m, Push{i})
		}
		if _, err := m.Compact(); err != nil {
			t.Error(err)
		}
	})
	defer ministate.SetTestBackupBetween(nil)
	info, err := ministate.Backup("/s", "tape.log", "/bk", &ministate.Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	if info.Tries != 2 || info.SnapshotSeq != 60 {
		t.Fatalf("Backup = %+v, want a second read that copied snapshot 60", info)
	}
	c := mustOpen[Tape, Push](t, "/bk", "tape.log", memOptions(mem, ministate.Options{}))
	defer c.Close()
	var n int
	c.View(func(s *Tape) { n = len(s.Items) })
	if n != 60 || c.Sequence() != 60 {
		t.Fatalf("the copy holds %d values at record %d", n, c.Sequence())
	}
}

// Compact on a folder whose journal is in the Rust crate's format leaves
// it one the crate refuses: a file NAME.000 (segment 0 for the crate, read
// first) whose first line is not a journal header. Go opens it as before,
// and a backup keeps the mark.
func TestCompactMarksRustJournal(t *testing.T) {
	mem := vfs.NewMem()
	m := mustOpen[Tape, Push](t, "/s", "tape.log", memOptions(mem, ministate.Options{JournalFormat: ministore.FormatPlain}))
	for i := range 10 {
		mustApply(t, m, Push{i})
	}
	if ok, _ := vfs.Exists(mem, "/s/tape.log.000"); ok {
		t.Fatal("a mark before Compact")
	}
	if _, err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Backup("/bk"); err != nil {
		t.Fatal(err)
	}
	m.Close()
	for _, dir := range []string{"/s", "/bk"} {
		b, err := vfs.ReadFile(mem, dir+"/tape.log.000")
		if err != nil || strings.HasPrefix(string(b), "// MINISTORE JOURNAL v") {
			t.Fatalf("%s: the mark is %q, %v", dir, b, err)
		}
		c := mustOpen[Tape, Push](t, dir, "tape.log", memOptions(mem, ministate.Options{}))
		var n int
		c.View(func(s *Tape) { n = len(s.Items) })
		if n != 10 || c.Sequence() != 10 {
			t.Fatalf("%s: %d values at record %d", dir, n, c.Sequence())
		}
		c.Close()
	}
}
