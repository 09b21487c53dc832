// SPDX-License-Identifier: MIT OR Apache-2.0

package vfs_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/vfs"
)

var errInjected = errors.New("injected")

// scriptState carries handles between the steps of script.
type scriptState struct {
	f vfs.File
	l io.Closer
}

// script is a sequence of steps, each exactly one Faulty operation.
var script = []struct {
	kind    vfs.OpKind
	path    string
	newPath string
	run     func(fsys vfs.FS, s *scriptState) error
}{
	{vfs.OpMkdir, "/d", "", func(fsys vfs.FS, s *scriptState) error { return fsys.Mkdir("/d", 0o755) }},
	{vfs.OpSyncDir, "/", "", func(fsys vfs.FS, s *scriptState) error { return fsys.SyncDir("/") }},
	{vfs.OpOpen, "/d/f", "", func(fsys vfs.FS, s *scriptState) (err error) {
		s.f, err = fsys.OpenFile("/d/f", os.O_RDWR|os.O_CREATE, 0o644)
		return err
	}},
	{vfs.OpWrite, "/d/f", "", func(fsys vfs.FS, s *scriptState) error {
		_, err := s.f.Write([]byte("hello world"))
		return err
	}},
	{vfs.OpWrite, "/d/f", "", func(fsys vfs.FS, s *scriptState) error {
		_, err := s.f.WriteAt([]byte("HELLO"), 0)
		return err
	}},
	{vfs.OpWrite, "/d/f", "", func(fsys vfs.FS, s *scriptState) error {
		_, err := vfs.WriteVecAt(s.f, [][]byte{[]byte("WOR"), []byte("LD")}, 6)
		return err
	}},
	{vfs.OpRead, "/d/f", "", func(fsys vfs.FS, s *scriptState) error {
		_, err := s.f.ReadAt(make([]byte, 5), 0)
		return err
	}},
	{vfs.OpRead, "/d/f", "", func(fsys vfs.FS, s *scriptState) error {
		_, err := s.f.Read(make([]byte, 5))
		if err == io.EOF {
			err = nil
		}
		return err
	}},
	{vfs.OpSync, "/d/f", "", func(fsys vfs.FS, s *scriptState) error { return s.f.Sync() }},
	{vfs.OpAllocate, "/d/f", "", func(fsys vfs.FS, s *scriptState) error { return vfs.Allocate(s.f, 0, 64) }},
	{vfs.OpTruncate, "/d/f", "", func(fsys vfs.FS, s *scriptState) error { return s.f.Truncate(5) }},
	{vfs.OpSize, "/d/f", "", func(fsys vfs.FS, s *scriptState) error {
		if s.f.Name() != "/d/f" { // Name is not an operation
			return errors.New("wrong name")
		}
		_, err := s.f.Size()
		return err
	}},
	{vfs.OpClose, "/d/f", "", func(fsys vfs.FS, s *scriptState) error { return s.f.Close() }},
	{vfs.OpStat, "/d/f", "", func(fsys vfs.FS, s *scriptState) error { _, err := fsys.Stat("/d/f"); return err }},
	{vfs.OpReadDir, "/d", "", func(fsys vfs.FS, s *scriptState) error { _, err := fsys.ReadDir("/d"); return err }},
	{vfs.OpRename, "/d/f", "/d/g", func(fsys vfs.FS, s *scriptState) error { return fsys.Rename("/d/f", "/d/g") }},
	{vfs.OpSyncDir, "/d", "", func(fsys vfs.FS, s *scriptState) error { return fsys.SyncDir("/d") }},
	{vfs.OpLock, "/d/LOCK", "", func(fsys vfs.FS, s *scriptState) (err error) {
		s.l, err = fsys.Lock("/d/LOCK")
		return err
	}},
	{vfs.OpClose, "/d/LOCK", "", func(fsys vfs.FS, s *scriptState) error { return s.l.Close() }},
	{vfs.OpRemove, "/d/g", "", func(fsys vfs.FS, s *scriptState) error { return fsys.Remove("/d/g") }},
	{vfs.OpSyncDir, "/d", "", func(fsys vfs.FS, s *scriptState) error { return fsys.SyncDir("/d") }},
}

// needsHandle reports whether script step i uses a handle that s lacks.
func needsHandle(i int, s *scriptState) bool {
	switch script[i].kind {
	case vfs.OpWrite, vfs.OpRead, vfs.OpSync, vfs.OpTruncate, vfs.OpSize, vfs.OpAllocate:
		return s.f == nil
	case vfs.OpClose:
		return script[i].path == "/d/f" && s.f == nil || script[i].path == "/d/LOCK" && s.l == nil
	}
	return false
}

func TestOpKindString(t *testing.T) {
	want := "open mkdir remove rename stat readdir syncdir lock read write sync truncate size close allocate"
	var got []string
	for k := vfs.OpOpen; k <= vfs.OpAllocate; k++ {
		got = append(got, k.String())
	}
	if strings.Join(got, " ") != want {
		t.Errorf("kinds: %v", got)
	}
	if s := vfs.OpKind(0).String(); s != "OpKind(0)" {
		t.Errorf("OpKind(0) = %q", s)
	}
}

func TestFaultyCountsOps(t *testing.T) {
	ff := vfs.NewFaulty(vfs.NewMem())
	var ops []vfs.Op
	ff.FailWhen(func(op vfs.Op) error {
		ops = append(ops, op)
		return nil
	})
	var s scriptState
	for i, step := range script {
		if err := step.run(ff, &s); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if ff.Ops() != i+1 {
			t.Fatalf("after step %d (%v): Ops() = %d", i, step.kind, ff.Ops())
		}
	}
	if len(ops) != len(script) {
		t.Fatalf("observed %d ops, want %d: %v", len(ops), len(script), ops)
	}
	for i, step := range script {
		want := vfs.Op{N: i + 1, Kind: step.kind, Path: step.path, NewPath: step.newPath}
		if ops[i] != want {
			t.Errorf("op %d = %+v, want %+v", i+1, ops[i], want)
		}
	}
}

func TestFaultyFailAt(t *testing.T) {
	for n := 1; n <= len(script); n++ {
		step := script[n-1]
		t.Run(fmt.Sprintf("%d-%v", n, step.kind), func(t *testing.T) {
			mem := vfs.NewMem()
			ff := vfs.NewFaulty(mem)
			ff.FailAt(n, errInjected)
			var s scriptState
			for i := range n - 1 {
				if err := script[i].run(ff, &s); err != nil {
					t.Fatalf("step %d before the fault: %v", i+1, err)
				}
			}
			before := mem.String()
			err := step.run(ff, &s)
			var pe *fs.PathError
			if !errors.Is(err, errInjected) || !errors.As(err, &pe) {
				t.Fatalf("op %d: got %v, want a *fs.PathError wrapping the injected error", n, err)
			}
			if pe.Op != step.kind.String() || pe.Path != step.path {
				t.Errorf("op %d: error %q has Op %q, Path %q", n, err, pe.Op, pe.Path)
			}
			// A failed write may have written part; a failed sync loses the
			// unsynced data (TestFaultyFailedSyncLosesData).
			if after := mem.String(); step.kind != vfs.OpWrite && step.kind != vfs.OpSync && after != before {
				t.Errorf("failed op %d changed the file system:\n%s\nthen\n%s", n, before, after)
			}
			// Only op n fails: retry it (a failed Close has released the
			// file anyway) and run the rest.
			from := n
			if step.kind == vfs.OpClose {
				from = n + 1
			}
			for i := from - 1; i < len(script); i++ {
				if err := script[i].run(ff, &s); err != nil {
					t.Fatalf("step %d after the fault: %v", i+1, err)
				}
			}
		})
	}
}

// Without faults, Faulty passes the inner file system's results through.
func TestFaultyPassesThrough(t *testing.T) {
	ff := vfs.NewFaulty(vfs.NewMem())
	for name, err := range map[string]error{
		"open":    func() error { _, err := ff.OpenFile("/nope", os.O_RDONLY, 0); return err }(),
		"mkdir":   ff.Mkdir("/nope/d", 0o755),
		"remove":  ff.Remove("/nope"),
		"rename":  ff.Rename("/nope", "/x"),
		"stat":    func() error { _, err := ff.Stat("/nope"); return err }(),
		"readdir": func() error { _, err := ff.ReadDir("/nope"); return err }(),
		"syncdir": ff.SyncDir("/nope"),
		"lock":    func() error { _, err := ff.Lock("/nope/LOCK"); return err }(),
	} {
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want ErrNotExist", name, err)
		}
	}
	mustWrite(t, ff, "/f", "data", true)
	if got, err := vfs.ReadFile(ff, "/f"); err != nil || string(got) != "data" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	if names, err := ff.ReadDir("/"); err != nil || fmt.Sprint(names) != "[f]" {
		t.Errorf("ReadDir = %v, %v", names, err)
	}
	if info, err := ff.Stat("/f"); err != nil || info.Size() != 4 {
		t.Errorf("Stat = %v, %v", info, err)
	}
}

func TestFaultyShortWrite(t *testing.T) {
	for _, at := range []bool{false, true} {
		t.Run(fmt.Sprintf("vector at=%v", at), func(t *testing.T) { testFaultyShortWriteVec(t, at) })
		mem := vfs.NewMem()
		ff := vfs.NewFaulty(mem)
		f, err := ff.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
		must(t, err)
		ff.FailAt(ff.Ops()+1, errInjected)
		var n int
		if at {
			n, err = f.WriteAt([]byte("0123456789"), 2)
		} else {
			n, err = f.Write([]byte("0123456789"))
		}
		if n != 5 || !errors.Is(err, errInjected) {
			t.Errorf("WriteAt=%v: got %d, %v; want 5, injected", at, n, err)
		}
		want := "01234"
		if at {
			want = "\x00\x0001234"
		}
		if got, _ := vfs.ReadFile(mem, "/f"); string(got) != want {
			t.Errorf("WriteAt=%v: inner file holds %q, want %q", at, got, want)
		}
		must(t, f.Close())
	}
}

// A failing WriteVecAt writes the first half of its bytes, across the
// buffers, as WriteAt does.
func testFaultyShortWriteVec(t *testing.T, many bool) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	f, err := ff.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	must(t, err)
	defer f.Close()
	bufs := [][]byte{[]byte("01"), []byte("2345"), []byte("6789")}
	if many {
		bufs = [][]byte{[]byte("0123456"), nil, []byte("789")}
	}
	ff.FailAt(ff.Ops()+1, errInjected)
	n, err := vfs.WriteVecAt(f, bufs, 2)
	if n != 5 || !errors.Is(err, errInjected) {
		t.Errorf("got %d, %v; want 5, injected", n, err)
	}
	if got, _ := vfs.ReadFile(mem, "/f"); string(got) != "\x00\x0001234" {
		t.Errorf("inner file holds %q", got)
	}
	n, err = vfs.WriteVecAt(f, bufs, 2)
	if got, _ := vfs.ReadFile(mem, "/f"); n != 10 || err != nil || string(got) != "\x00\x000123456789" {
		t.Errorf("after the fault: %d, %v; inner file holds %q", n, err, got)
	}
}

// trackFS counts the open files of the FS it wraps.
type trackFS struct {
	vfs.FS
	open atomic.Int32
}

func (t *trackFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := t.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	t.open.Add(1)
	return &trackFile{File: f, fs: t}, nil
}

type trackFile struct {
	vfs.File
	fs     *trackFS
	closed bool
}

func (f *trackFile) Close() error {
	if !f.closed {
		f.closed = true
		f.fs.open.Add(-1)
	}
	return f.File.Close()
}

func TestFaultyCloseReleases(t *testing.T) {
	inner := &trackFS{FS: vfs.NewMem()}
	ff := vfs.NewFaulty(inner)
	ff.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpClose {
			return errInjected
		}
		return nil
	})
	f, err := ff.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	must(t, err)
	if err := f.Close(); !errors.Is(err, errInjected) {
		t.Errorf("Close: %v", err)
	}
	if n := inner.open.Load(); n != 0 {
		t.Errorf("%d inner files open after a failed Close", n)
	}
	l, err := ff.Lock("/LOCK")
	must(t, err)
	if err := l.Close(); !errors.Is(err, errInjected) {
		t.Errorf("lock Close: %v", err)
	}
	l, err = inner.Lock("/LOCK")
	if err != nil {
		t.Fatalf("lock not released by a failed Close: %v", err)
	}
	l.Close()

	// After a crash too.
	mem := vfs.NewMem()
	ff = vfs.NewFaulty(mem)
	l, err = ff.Lock("/LOCK")
	must(t, err)
	ff.Crash()
	if err := l.Close(); !errors.Is(err, vfs.ErrCrashed) {
		t.Errorf("lock Close after the crash: %v", err)
	}
	l, err = mem.Lock("/LOCK")
	if err != nil {
		t.Fatalf("lock not released by Close after the crash: %v", err)
	}
	l.Close()
}

func TestFaultyFailWhen(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	errFirst, errSecond := errors.New("first"), errors.New("second")
	ff.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync && strings.HasSuffix(op.Path, ".log") {
			return errFirst
		}
		return nil
	})
	ff.FailWhen(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync || op.Kind == vfs.OpRename && op.NewPath == "/CURRENT" {
			return errSecond
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		want error
	}{{"/a.log", errFirst}, {"/b.txt", errSecond}} {
		f, err := ff.OpenFile(tc.name, os.O_RDWR|os.O_CREATE, 0o644)
		must(t, err)
		if _, err := f.Write([]byte("x")); err != nil {
			t.Errorf("Write: %v", err)
		}
		if err := f.Sync(); !errors.Is(err, tc.want) {
			t.Errorf("Sync of %s: %v, want %v", tc.name, err, tc.want)
		}
		must(t, f.Close())
	}
	if err := ff.Rename("/a.log", "/CURRENT"); !errors.Is(err, errSecond) {
		t.Errorf("Rename: %v", err)
	}
	must(t, ff.Rename("/a.log", "/OTHER"))
}

// TestFaultyCrashAt crashes the script at every step in turn and checks
// that everything from then on fails with ErrCrashed without touching the
// inner file system, and that the crashed disk is the durable state as of
// just before the crashing op.
func TestFaultyCrashAt(t *testing.T) {
	for k := 1; k <= len(script); k++ {
		t.Run(fmt.Sprintf("%d-%v", k, script[k-1].kind), func(t *testing.T) {
			mem := vfs.NewMem()
			ff := vfs.NewFaulty(mem)
			ff.CrashAt(k)
			ref := vfs.NewMem() // the same steps without Faulty
			var s, rs scriptState
			for i := range k - 1 {
				must(t, script[i].run(ff, &s))
				must(t, script[i].run(ref, &rs))
				if ff.Crashed() != nil {
					t.Fatalf("crashed before op %d", k)
				}
			}
			before := mem.String()
			for i := k - 1; i < len(script); i++ {
				if needsHandle(i, &s) {
					continue // its handle was never opened
				}
				if err := script[i].run(ff, &s); !errors.Is(err, vfs.ErrCrashed) {
					t.Fatalf("step %d after the crash: %v", i+1, err)
				}
			}
			// Handles opened before the crash fail too.
			if s.f != nil {
				if _, err := s.f.Write([]byte("late")); !errors.Is(err, vfs.ErrCrashed) {
					t.Errorf("Write on an old handle: %v", err)
				}
			}
			if after := mem.String(); after != before {
				t.Errorf("ops after the crash changed the inner FS:\n%s\nthen\n%s", before, after)
			}
			disk := ff.Crashed()
			if disk == nil {
				t.Fatal("Crashed() = nil after the crash")
			}
			if want := ref.CrashClone(vfs.CrashOptions{}); !sameDisk(t, disk, want) {
				t.Errorf("crashed disk:\n%s\nwant:\n%s", disk, want)
			}
			if ff.Crash() != disk {
				t.Error("Crash after the crash took a new clone")
			}
		})
	}
}

func TestFaultyCrashNow(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	mustWrite(t, ff, "/f", "durable", true)
	must(t, ff.SyncDir("/"))
	mustWrite(t, ff, "/g", "lost", true)
	disk := ff.Crash()
	if ff.Crashed() != disk {
		t.Error("Crashed() is not the clone Crash returned")
	}
	if _, err := ff.Stat("/f"); !errors.Is(err, vfs.ErrCrashed) {
		t.Errorf("Stat after Crash: %v", err)
	}
	if got, err := vfs.ReadFile(disk, "/f"); err != nil || string(got) != "durable" {
		t.Errorf("/f = %q, %v", got, err)
	}
	if ok, _ := vfs.Exists(disk, "/g"); ok {
		t.Error("/g survived without SyncDir")
	}
}

func TestFaultyCrashNeedsMem(t *testing.T) {
	for name, fn := range map[string]func(*vfs.Faulty){
		"CrashAt": func(ff *vfs.Faulty) { ff.CrashAt(1) },
		"Crash":   func(ff *vfs.Faulty) { ff.Crash() },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "*vfs.Mem") {
					t.Errorf("%s on OS: recovered %v, want a panic naming *vfs.Mem", name, r)
				}
			}()
			fn(vfs.NewFaulty(vfs.OS))
		}()
	}
}

func TestFaultyConcurrent(t *testing.T) {
	const goroutines, rounds = 8, 50
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	var injected atomic.Int32
	ff.FailWhen(func(op vfs.Op) error {
		if op.N%7 == 0 {
			injected.Add(1)
			return errInjected
		}
		return nil
	})
	var failed atomic.Int32
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				// Three ops: open, write, close.
				f, err := ff.OpenFile(fmt.Sprintf("/f%d-%d", g, i), os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					failed.Add(1)
					f, err = ff.OpenFile(fmt.Sprintf("/f%d-%d", g, i), os.O_RDWR|os.O_CREATE, 0o644)
					if err != nil {
						failed.Add(1)
						continue
					}
				}
				if _, err := f.Write([]byte("x")); err != nil {
					failed.Add(1)
				}
				if err := f.Close(); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != injected.Load() {
		t.Errorf("%d ops failed, %d injected", failed.Load(), injected.Load())
	}
	if want := ff.Ops() / 7; int(injected.Load()) != want {
		t.Errorf("%d injected in %d ops, want %d", injected.Load(), ff.Ops(), want)
	}

	// A crash in the middle of concurrent work.
	ff = vfs.NewFaulty(vfs.NewMem())
	ff.CrashAt(100)
	for g := range goroutines {
		wg.Go(func() {
			for i := 0; ; i++ {
				if err := writeFile(ff, fmt.Sprintf("/c%d", g), fmt.Sprint(i)); err != nil {
					if !errors.Is(err, vfs.ErrCrashed) {
						t.Error(err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	if ff.Crashed() == nil {
		t.Error("no crash")
	}
}

// workload is a toy store: it saves "/db/data" atomically (temporary file,
// Sync, Rename, SyncDir), then appends records to it, syncing each. It
// stops at the first error and returns the contents acknowledged durable.
// bug leaves out a step: "no-sync" the Sync of the temporary file,
// "no-syncdir" the SyncDir after the rename.
func workload(fsys vfs.FS, bug string) (acked string) {
	if err := vfs.MkdirAll(fsys, "/db", 0o755); err != nil {
		return ""
	}
	f, err := fsys.OpenFile("/db/data.tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return ""
	}
	if _, err := f.Write([]byte("v1")); err != nil {
		f.Close()
		return ""
	}
	if bug != "no-sync" {
		if err := f.Sync(); err != nil {
			f.Close()
			return ""
		}
	}
	if err := f.Close(); err != nil {
		return ""
	}
	if err := fsys.Rename("/db/data.tmp", "/db/data"); err != nil {
		return ""
	}
	if bug != "no-syncdir" {
		if err := fsys.SyncDir("/db"); err != nil {
			return ""
		}
	}
	acked = "v1"
	f, err = fsys.OpenFile("/db/data", os.O_WRONLY, 0)
	if err != nil {
		return acked
	}
	defer f.Close()
	for _, rec := range []string{",a", ",bb", ",ccc"} {
		size, err := f.Size()
		if err != nil {
			return acked
		}
		if _, err := f.WriteAt([]byte(rec), size); err != nil {
			return acked
		}
		if err := f.Sync(); err != nil {
			return acked
		}
		acked += rec
	}
	return acked
}

const workloadDone = "v1,a,bb,ccc"

// checkDisk reports whether disk holds what was acknowledged; with exact,
// nothing more either.
func checkDisk(disk *vfs.Mem, acked string, exact bool) error {
	if acked == "" {
		return nil
	}
	got, err := vfs.ReadFile(disk, "/db/data")
	if err != nil {
		return fmt.Errorf("acknowledged %q, but: %w", acked, err)
	}
	if !strings.HasPrefix(string(got), acked) || exact && string(got) != acked {
		return fmt.Errorf("acknowledged %q, disk holds %q", acked, got)
	}
	return nil
}

// sweep crashes workload at every op in turn and returns the number of
// crash points and the check failures.
func sweep(t *testing.T, bug string, opts func(k int) vfs.CrashOptions) (points int, failures []string) {
	t.Helper()
	for k := 1; ; k++ {
		mem := vfs.NewMem()
		ff := vfs.NewFaulty(mem)
		ff.SetCrashOptions(opts(k))
		ff.CrashAt(k)
		acked := workload(ff, bug)
		disk := ff.Crashed()
		if disk == nil {
			if acked != workloadDone {
				t.Errorf("workload finished without crash, acknowledging %q", acked)
			}
			if err := checkDisk(mem, acked, true); err != nil {
				t.Errorf("after the workload: %v", err)
			}
			return k - 1, failures
		}
		if err := checkDisk(disk, acked, opts(k).Rand == nil); err != nil {
			failures = append(failures, fmt.Sprintf("crash at op %d: %v\n%s", k, err, disk))
		}
	}
}

func TestCrashSweep(t *testing.T) {
	points, failures := sweep(t, "", func(int) vfs.CrashOptions { return vfs.CrashOptions{} })
	if points < 20 {
		t.Errorf("only %d crash points", points)
	}
	for _, f := range failures {
		t.Error(f)
	}
	for seed := range uint64(20) {
		_, failures := sweep(t, "", func(k int) vfs.CrashOptions {
			return vfs.CrashOptions{Rand: rand.New(rand.NewPCG(seed, uint64(k))), KeepUnsynced: 0.5}
		})
		for _, f := range failures {
			t.Errorf("seed %d: %s", seed, f)
		}
	}
}

// The sweep finds the bugs of a workload that skips a sync.
func TestCrashSweepFindsBugs(t *testing.T) {
	for _, bug := range []string{"no-sync", "no-syncdir"} {
		_, failures := sweep(t, bug, func(int) vfs.CrashOptions { return vfs.CrashOptions{} })
		if len(failures) == 0 {
			t.Errorf("%s: no crash point lost acknowledged data", bug)
		}
	}
}

// TestFaultyCrashIsAtomic crashes while several goroutines write and fsync
// their own files: every fsync that returned nil must be in the crash
// image, even one that was running on the inner file system when the crash
// began.
func TestFaultyCrashIsAtomic(t *testing.T) {
	for round := range 200 {
		mem := vfs.NewMem()
		ff := vfs.NewFaulty(mem)
		ff.CrashAt(20 + round%37)
		var wg sync.WaitGroup
		synced := make([]int, 4) // per writer: the last length whose fsync returned nil
		for w := range synced {
			wg.Go(func() {
				f, err := ff.OpenFile(fmt.Sprintf("/f%d", w), os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					return
				}
				defer f.Close()
				if ff.SyncDir("/") != nil {
					return
				}
				for n := 1; ; n++ {
					if _, err := f.WriteAt([]byte{byte(n)}, int64(n-1)); err != nil {
						return
					}
					if f.Sync() != nil {
						return
					}
					synced[w] = n
				}
			})
		}
		wg.Wait()
		disk := ff.Crashed()
		if disk == nil {
			t.Fatal("no crash")
		}
		for w, n := range synced {
			if n == 0 {
				continue
			}
			b, err := vfs.ReadFile(disk, fmt.Sprintf("/f%d", w))
			if err != nil || len(b) < n {
				t.Fatalf("round %d: writer %d had %d bytes fsync'd, the crash image holds %d (%v)", round, w, n, len(b), err)
			}
		}
	}
}

// After a failed fsync, Linux marks the dirty pages clean: reads still see
// the data, but no later fsync writes it, and a power loss takes it. A
// store that ignored the failure would lose what it acknowledged.
func TestFaultyFailedSyncLosesData(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	f, err := ff.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("durable "), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := ff.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("lost"), 8); err != nil {
		t.Fatal(err)
	}
	failing := true
	ff.FailWhen(func(op vfs.Op) error {
		if failing && op.Kind == vfs.OpSync {
			return errInjected
		}
		return nil
	})
	if err := f.Sync(); !errors.Is(err, errInjected) {
		t.Fatalf("Sync = %v, want the injected error", err)
	}
	failing = false
	if got, _ := vfs.ReadFile(mem, "/f"); string(got) != "durable lost" {
		t.Fatalf("read after the failed sync: %q, want the written data", got)
	}
	if _, err := f.WriteAt([]byte("!"), 12); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := vfs.ReadFile(mem.CrashClone(vfs.CrashOptions{}), "/f")
	if err != nil {
		t.Fatal(err)
	}
	if want := "durable \x00\x00\x00\x00!"; string(got) != want {
		t.Fatalf("after power loss: %q, want %q (the bytes of the failed sync lost, the later write kept)", got, want)
	}
}
