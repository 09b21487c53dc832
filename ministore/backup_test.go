// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/internal/crashtest"
	"github.com/mini-go/mini/vfs"
)

type loadRec struct {
	W int `json:"w"`
	I int `json:"i"`
}

// ackLog records the appends that returned, by sequence number.
type ackLog struct {
	mu  sync.Mutex
	got map[uint64]loadRec
}

func (a *ackLog) add(seq uint64, r loadRec) {
	a.mu.Lock()
	a.got[seq] = r
	a.mu.Unlock()
}

func (a *ackLog) copy() map[uint64]loadRec {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[uint64]loadRec, len(a.got))
	for k, v := range a.got {
		m[k] = v
	}
	return m
}

// checkRestored opens the copy at path with Open, as a restore does, and
// checks that it holds every record of acked from first on at its
// sequence number, each record once and in order, and that Open repaired
// nothing. It returns how many acknowledged records it checked.
func checkRestored(t *testing.T, path string, info BackupInfo, acked map[uint64]loadRec, fsys vfs.FS) int {
	t.Helper()
	s, err := Open[loadRec](path, &Options{FS: fsys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open the restored copy %s: %v", path, err)
	}
	defer s.Close()
	if tt := s.TornTail(); tt != nil {
		t.Fatalf("the restored copy needed a repair: %+v", tt)
	}
	if s.FirstSeq() != info.First || s.LastSeq() != info.Last {
		t.Fatalf("copy holds %d..%d, Backup said %d..%d", s.FirstSeq(), s.LastSeq(), info.First, info.Last)
	}
	seen := map[loadRec]uint64{}
	next := info.First
	for rec, err := range s.All(0) {
		if err != nil {
			t.Fatalf("read the restored copy: %v", err)
		}
		if rec.Seq != next {
			t.Fatalf("record %d where %d was expected", rec.Seq, next)
		}
		next++
		if prev, dup := seen[rec.Value]; dup {
			t.Fatalf("record %+v twice: at %d and %d", rec.Value, prev, rec.Seq)
		}
		seen[rec.Value] = rec.Seq
	}
	checked, missing := 0, 0
	for seq, want := range acked {
		if seq < info.First {
			continue // dropped by TruncateFront before the copy point
		}
		checked++
		if got, ok := seen[want]; !ok || got != seq {
			missing++
			t.Errorf("acknowledged record %d %+v: in the copy at %d (found %v)", seq, want, got, ok)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged records missing from the copy", missing, checked)
	}
	return checked
}

// TestBackupUnderLoad: Backup under load, 0 acknowledged records missing
// from any restored copy. Eight writers append while five backups are
// taken; each copy is opened with Open and must hold every record whose
// Append returned before its Backup was called.
func TestBackupUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name     string
		live     bool // the package-level Backup, beside the Store that holds the lock
		truncate bool // TruncateFront runs during the load
	}{
		{name: "store"},
		{name: "store-truncating", truncate: true},
		{name: "live", live: true},
		{name: "live-truncating", live: true, truncate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "j.log")
			s := openT[loadRec](t, path, &Options{MaxSegmentBytes: 8 << 10, Logger: slog.New(slog.DiscardHandler)})
			defer s.Close()
			acks := &ackLog{got: map[uint64]loadRec{}}
			var stop atomic.Bool
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						r := loadRec{W: w, I: i}
						seq, err := s.Append(r)
						if err != nil {
							t.Errorf("Append: %v", err)
							return
						}
						acks.add(seq, r)
					}
				}()
			}
			if tc.truncate {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stop.Load() {
						time.Sleep(3 * time.Millisecond)
						if last := s.LastSeq(); last > 300 {
							if err := s.TruncateFront(last - 300); err != nil {
								t.Errorf("TruncateFront: %v", err)
								return
							}
						}
					}
				}()
			}
			checked, tries := 0, 0
			for b := range 5 {
				time.Sleep(20 * time.Millisecond)
				acked, front := acks.copy(), s.FirstSeq()
				dst := filepath.Join(t.TempDir(), fmt.Sprintf("backup-%d", b))
				var info BackupInfo
				var err error
				if tc.live {
					info, err = Backup(path, dst, nil)
				} else {
					info, err = s.Backup(dst)
				}
				if err != nil {
					t.Fatalf("backup %d: %v", b, err)
				}
				if info.Live != tc.live {
					t.Fatalf("backup %d: Live = %v", b, info.Live)
				}
				if !tc.truncate && info.First != 1 {
					t.Fatalf("backup %d starts at %d", b, info.First)
				}
				if info.First < front && info.Last >= front {
					t.Fatalf("backup %d starts at %d, below the journal's first record %d before it started", b, info.First, front)
				}
				if info.First > s.FirstSeq() {
					t.Fatalf("backup %d starts at %d, after the journal's first record %d", b, info.First, s.FirstSeq())
				}
				checked += checkRestored(t, info.Path, info, acked, vfs.OS)
				tries += info.Tries
			}
			stop.Store(true)
			wg.Wait()
			t.Logf("5 backups under load: %d acknowledged records checked, 0 missing; %d reads of the journal; %d records appended",
				checked, tries, s.LastSeq())
		})
	}
}

func TestBackupDestination(t *testing.T) {
	mem := vfs.NewMem()
	s := openT[kv](t, "/src/j.log", quietOptions(Options{}, mem))
	defer s.Close()
	for i := range 3 {
		if _, err := s.Append(kv{V: i}); err != nil {
			t.Fatal(err)
		}
	}
	// An empty folder is taken.
	if err := mem.Mkdir("/empty", 0o755); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Backup("/empty"); err != nil || info.Last != 3 || info.First != 1 || info.Files != 1 {
		t.Fatalf("Backup into an empty folder = %+v, %v", info, err)
	}
	// A folder that holds something, or a file, is refused.
	for _, dst := range []string{"/empty", "/src/j.log"} {
		if _, err := s.Backup(dst); !errors.Is(err, ErrBackupDestination) {
			t.Fatalf("Backup(%s) = %v, want ErrBackupDestination", dst, err)
		}
	}
	// dst.tmp of someone else is refused, one left by a backup cut short
	// is removed.
	if err := mem.Mkdir("/other.tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := backup.WriteFile(mem, "/other.tmp/data", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup("/other"); !errors.Is(err, ErrBackupDestination) {
		t.Fatalf("Backup beside a foreign .tmp = %v", err)
	}
	if err := vfs.MkdirAll(mem, "/cut.tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := backup.WriteFile(mem, "/cut.tmp/"+backup.MarkerFile, nil); err != nil {
		t.Fatal(err)
	}
	if err := backup.WriteFile(mem, "/cut.tmp/j.log", []byte("half")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup("/cut"); err != nil {
		t.Fatalf("Backup after one cut short: %v", err)
	}
	names, _ := mem.ReadDir("/cut")
	if len(names) != 1 || names[0] != "j.log" {
		t.Fatalf("the copy holds %v", names)
	}
	if ok, _ := vfs.Exists(mem, "/cut.tmp"); ok {
		t.Fatal("the leftover .tmp is still there")
	}
	// A closed Store refuses.
	s.Close()
	if _, err := s.Backup("/after"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Backup after Close = %v", err)
	}
}

// A damaged sealed segment fails the backup with an error naming the
// journal's file, not the copy's, and leaves no destination.
func TestBackupDamage(t *testing.T) {
	mem := vfs.NewMem()
	s := openT[kv](t, "/src/j.log", quietOptions(Options{MaxSegmentBytes: 256}, mem))
	for i := range 30 {
		if _, err := s.Append(kv{K: "key", V: i}); err != nil {
			t.Fatal(err)
		}
	}
	seg := s.Segments()[0].Path
	s.Close()
	b, err := vfs.ReadFile(mem, seg)
	if err != nil {
		t.Fatal(err)
	}
	off := len(b) / 2 // Open reads a sealed segment's last line only
	b[off] ^= 0x20
	f, _ := mem.OpenFile(seg, os.O_RDWR, 0)
	f.WriteAt(b[off:off+1], int64(off))
	f.Close()
	for _, backupFn := range []func() (BackupInfo, error){
		func() (BackupInfo, error) { return Backup("/src/j.log", "/bk", &Options{FS: mem}) },
		func() (BackupInfo, error) {
			s := openT[kv](t, "/src/j.log", quietOptions(Options{MaxSegmentBytes: 256}, mem))
			defer s.Close()
			return s.Backup("/bk")
		},
	} {
		_, err = backupFn()
		var je *JournalError
		if !errors.As(err, &je) || !errors.Is(err, ErrCorrupt) || je.Path != seg {
			t.Fatalf("Backup of a damaged journal = %v, want a *JournalError naming %s", err, seg)
		}
		for _, p := range []string{"/bk", "/bk.tmp"} {
			if ok, _ := vfs.Exists(mem, p); ok {
				t.Fatalf("%s left behind", p)
			}
		}
	}
}

// TestBackupCrash cuts the power at every file-system operation of a
// Backup (and of the Open before it): afterwards the destination is
// missing or a whole copy, never one that opens with records missing, and
// the next Backup to it succeeds.
func TestBackupCrash(t *testing.T) {
	const n = 40
	build := func(mem *vfs.Mem) { buildBackupSource(t, mem, n) }
	check := func(disk vfs.FS, where string) {
		t.Helper()
		if ok, _ := vfs.Exists(disk, "/bk"); !ok {
			return
		}
		names, _ := disk.ReadDir("/bk")
		s, err := Open[kv]("/bk/j.log", quietOptions(Options{}, disk))
		if err != nil {
			t.Fatalf("%s: the copy %v does not open: %v", where, names, err)
		}
		defer s.Close()
		if s.FirstSeq() != 1 || s.LastSeq() != n || s.TornTail() != nil {
			t.Fatalf("%s: the copy %v holds %d..%d (torn %v), want 1..%d", where, names, s.FirstSeq(), s.LastSeq(), s.TornTail(), n)
		}
		i := 0
		for rec, err := range s.All(1) {
			if err != nil || rec.Value.V != i {
				t.Fatalf("%s: record %d = %+v, %v", where, rec.Seq, rec.Value, err)
			}
			i++
		}
	}
	for _, kind := range []string{"store", "path"} {
		t.Run(kind, func(t *testing.T) {
			crashtest.CrashSweep(t, 7, uint64(len(kind)), func(c *crashtest.Crash) {
				build(c.Mem)
				var err error
				if kind == "store" {
					var s *Store[kv]
					s, err = Open[kv]("/src/j.log", quietOptions(Options{MaxSegmentBytes: 512}, c.FS))
					if err == nil {
						_, err = s.Backup("/bk")
						if cerr := s.Close(); err == nil {
							err = cerr
						}
					}
				} else {
					_, err = Backup("/src/j.log", "/bk", &Options{FS: c.FS})
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
				// The backup again, after the crash.
				if _, err := Backup("/src/j.log", "/bk", &Options{FS: disk}); err != nil {
					t.Fatalf("crash at op %d: backup again: %v", c.K, err)
				}
				check(disk, fmt.Sprintf("crash at op %d, backup again", c.K))
			})
		})
	}
}

// A TruncateBack between the noting of the files and their copy: Backup
// starts again and copies the journal as it is after it.
func TestBackupTruncateBackBetween(t *testing.T) {
	mem := vfs.NewMem()
	s := openT[kv](t, "/src/j.log", quietOptions(Options{MaxSegmentBytes: 256}, mem))
	defer s.Close()
	for i := range 30 {
		if _, err := s.Append(kv{K: "old", V: i}); err != nil {
			t.Fatal(err)
		}
	}
	testBackupNoted = func() {
		testBackupNoted = nil
		if err := s.TruncateBack(25); err != nil {
			t.Error(err)
		}
		if _, err := s.Append(kv{K: "new", V: 1}); err != nil {
			t.Error(err)
		}
	}
	defer func() { testBackupNoted = nil }()
	info, err := s.Backup("/bk")
	if err != nil {
		t.Fatal(err)
	}
	if info.Tries != 2 || info.Last != 26 {
		t.Fatalf("Backup = %+v, want a second try ending at 26", info)
	}
	c := openT[kv](t, info.Path, quietOptions(Options{}, mem))
	defer c.Close()
	if r, err := c.Get(26); err != nil || r.K != "new" {
		t.Fatalf("record 26 of the copy = %+v, %v", r, err)
	}
}

// TestFrontSeq: where a journal starts, read through its first header and
// its bound, as Open would find it.
func TestFrontSeq(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, m *vfs.Mem)
		want  uint64 // 0: fs.ErrNotExist
	}{
		{name: "no journal", setup: func(*testing.T, *vfs.Mem) {}},
		{name: "fresh", setup: func(t *testing.T, m *vfs.Mem) {
			s := openT[kv](t, dirPath, quietOptions(Options{}, m))
			appendN(t, s, 1, 3)
			s.Close()
		}, want: 1},
		{name: "bound", setup: func(t *testing.T, m *vfs.Mem) { truncatedFront(t, m, 8) }, want: 8},
		{name: "past the end", setup: func(t *testing.T, m *vfs.Mem) { truncatedFront(t, m, 30) }, want: 30},
		{name: "active file without a header", setup: func(t *testing.T, m *vfs.Mem) {
			writeMemFile(t, m, dirPath, []byte(magic[:10]))
		}, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := vfs.NewMem()
			if err := vfs.MkdirAll(m, filepath.Dir(dirPath), 0o755); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, m)
			got, err := FrontSeq(dirPath, &Options{FS: m})
			if tc.want == 0 && !errors.Is(err, fs.ErrNotExist) || tc.want != 0 && (err != nil || got != tc.want) {
				t.Fatalf("FrontSeq = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// truncatedFront writes records 1..20 in segments of three or so to
// dirPath on m and cuts its front at seq.
func truncatedFront(t *testing.T, m *vfs.Mem, seq uint64) {
	s, err := Open[kv](dirPath, quietOptions(Options{MaxSegmentBytes: 200}, m))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1, 20)
	if err := s.TruncateFront(seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// An active file that a crash left without a header (all the journal
// holds) is left out of the copy, as Open sets it aside.
func TestBackupHeaderless(t *testing.T) {
	m := vfs.NewMem()
	if err := vfs.MkdirAll(m, filepath.Dir(dirPath), 0o755); err != nil {
		t.Fatal(err)
	}
	writeMemFile(t, m, dirPath, []byte(magic[:10]))
	info, err := Backup(dirPath, "/bk", &Options{FS: m})
	if err != nil || info.Files != 0 || info.First != 0 || info.Next != 1 {
		t.Fatalf("Backup = %+v, %v", info, err)
	}
	if ok, _ := vfs.Exists(m, "/bk/"+filepath.Base(dirPath)); ok {
		t.Fatal("the header-less file was copied")
	}
	s := openT[kv](t, info.Path, quietOptions(Options{}, m))
	defer s.Close()
	if seq, err := s.Append(kv{V: 1}); err != nil || seq != 1 {
		t.Fatalf("Append to the restored copy = %d, %v", seq, err)
	}
}

// readHookFS runs hook once, before the first ReadAt at or past off of
// the file path opened through it.
type readHookFS struct {
	vfs.FS
	path string
	off  int64
	once sync.Once
	hook func()
}

func (h *readHookFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := h.FS.OpenFile(name, flag, perm)
	if err != nil || name != h.path {
		return f, err
	}
	return &readHookFile{File: f, fs: h}, nil
}

type readHookFile struct {
	vfs.File
	fs *readHookFS
}

func (f *readHookFile) ReadAt(b []byte, off int64) (int, error) {
	if off >= f.fs.off {
		f.fs.once.Do(f.fs.hook)
	}
	return f.File.ReadAt(b, off)
}

// TestBackupLiveTruncateBack: the process holding the journal calls
// TruncateBack, and appends more records than it dropped, while a live
// Backup copies the active file (over 1 MiB: read in parts). The copy
// must hold what the journal held at one moment, never records the cut
// dropped followed by records written after it (every one verifies, the
// numbers follow each other): it held some 14000 dropped records and
// 44000 new ones before each file copied was compared with its copy.
func TestBackupLiveTruncateBack(t *testing.T) {
	m := vfs.NewMem()
	s := openT[kv](t, dirPath, quietOptions(Options{}, m))
	defer s.Close()
	const n, cut = 20000, 1000 // n records: 1.4 MB, past the first read
	batch := func(k string, from, to int) {
		var recs []kv
		for i := from; i <= to; i++ {
			recs = append(recs, kv{K: k, V: i})
		}
		if _, _, err := s.AppendBatch(recs...); err != nil {
			t.Error(err)
		}
	}
	for i := 1; i <= n; i += 1000 {
		batch("old", i, i+999)
	}
	fsys := &readHookFS{FS: m, path: dirPath, off: 1 << 20, hook: func() {
		if err := s.TruncateBack(cut); err != nil {
			t.Error(err)
		}
		// Past the size the copy noted (with the preallocated space).
		for i := cut + 1; i <= 4*n; i += 1000 {
			batch("new", i, i+999)
		}
	}}
	if err := vfs.MkdirAll(m, "/copy", 0o755); err != nil {
		t.Fatal(err)
	}
	info, err := BackupTo(dirPath, "/copy", &Options{FS: fsys})
	if err != nil || !info.Live {
		t.Fatalf("BackupTo = %+v, %v; want a live copy", info, err)
	}
	dropped, newer := 0, 0
	for r, err := range RecordsWith[kv]("/copy/"+filepath.Base(dirPath), 0, &Options{FS: m}) {
		if err != nil || r.Value.V != int(r.Seq) {
			t.Fatalf("record %d: %+v, %v", r.Seq, r.Value, err)
		}
		if r.Seq > cut && r.Value.K == "old" {
			dropped++
		} else if r.Value.K == "new" {
			newer++
		}
	}
	if dropped > 0 && newer > 0 {
		t.Fatalf("the copy (%+v) holds %d records the TruncateBack dropped and %d written after it", info, dropped, newer)
	}
}
