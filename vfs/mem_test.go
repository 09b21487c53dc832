// SPDX-License-Identifier: MIT OR Apache-2.0

package vfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mini-go/mini/vfs"
)

func TestMemErrors(t *testing.T) {
	m := vfs.NewMem()
	mustWrite(t, m, "/f", "data", false)
	f, err := m.OpenFile("f", os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pe *fs.PathError
	_, err = f.WriteAt([]byte("x"), 0)
	if !errors.As(err, &pe) || !strings.HasPrefix(pe.Err.Error(), "vfs: ") {
		t.Errorf("WriteAt in append mode: %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 1), -1); !errors.As(err, &pe) || pe.Path != "f" {
		t.Errorf("ReadAt(-1): %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"mkdir root", m.Mkdir("/", 0o755), fs.ErrExist},
		{"mkdir dot", m.Mkdir(".", 0o755), fs.ErrExist},
		{"remove root", m.Remove("/"), nil},
		{"rename root", m.Rename("/", "/x"), nil},
		{"syncdir file", m.SyncDir("/f"), nil},
		{"syncdir missing", m.SyncDir("/nope"), fs.ErrNotExist},
		{"create excl root", func() error { _, err := m.OpenFile("/", os.O_CREATE|os.O_EXCL, 0); return err }(), fs.ErrExist},
	} {
		if tc.err == nil || !errors.As(tc.err, &pe) || tc.want != nil && !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want a *fs.PathError matching %v", tc.name, tc.err, tc.want)
		}
	}
	if names, err := m.ReadDir("."); err != nil || !slices.Equal(names, []string{"f"}) {
		t.Errorf("ReadDir(.) = %v, %v", names, err)
	}
}

func TestMemPathsAlias(t *testing.T) {
	m := vfs.NewMem()
	if err := vfs.MkdirAll(m, "a/b", 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, m, "a/b/f", "one", false)
	for _, name := range []string{"/a/b/f", "./a/b/f", "a/../a/b/f", "/../a/b/f", "a//b/./f"} {
		if got, err := vfs.ReadFile(m, name); err != nil || string(got) != "one" {
			t.Errorf("ReadFile(%q) = %q, %v", name, got, err)
		}
	}
}

func TestMemModTimeAdvances(t *testing.T) {
	m := vfs.NewMem()
	mustWrite(t, m, "/f", "1", false)
	before, _ := m.Stat("/f")
	mustWrite(t, m, "/f", "2", false)
	after, _ := m.Stat("/f")
	if !after.ModTime().After(before.ModTime()) {
		t.Errorf("ModTime did not advance: %v then %v", before.ModTime(), after.ModTime())
	}
}

// mustWrite writes name whole (truncating it), syncing the data if sync.
func mustWrite(t testing.TB, fsys vfs.FS, name, data string, sync bool) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCrashClone(t *testing.T) {
	const absent = "<absent>"
	tests := []struct {
		name  string
		run   func(t *testing.T, m *vfs.Mem)
		files map[string]string // path -> contents after the crash, or absent
		dirs  map[string]string // path -> fmt.Sprint(ReadDir) after the crash, or absent
	}{{
		name:  "nothing synced",
		run:   func(t *testing.T, m *vfs.Mem) { mustWrite(t, m, "/f", "data", false) },
		files: map[string]string{"/f": absent},
	}, {
		name: "unsynced data lost",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "data", false)
			must(t, m.SyncDir("/"))
		},
		files: map[string]string{"/f": ""},
	}, {
		name: "synced data survives",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "data", true)
			must(t, m.SyncDir("/"))
		},
		files: map[string]string{"/f": "data"},
	}, {
		name: "only the synced prefix survives",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "data", true)
			must(t, m.SyncDir("/"))
			f, err := m.OpenFile("/f", os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			_, err = f.Write([]byte("more"))
			must(t, err)
			must(t, f.Close())
		},
		files: map[string]string{"/f": "data"},
	}, {
		name: "file synced but its entry not",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/old", "x", true)
			must(t, m.SyncDir("/"))
			mustWrite(t, m, "/f", "data", true)
		},
		files: map[string]string{"/f": absent, "/old": "x"},
	}, {
		name: "directory not synced in its parent",
		run: func(t *testing.T, m *vfs.Mem) {
			must(t, m.Mkdir("/d", 0o755))
			mustWrite(t, m, "/d/f", "data", true)
			must(t, m.SyncDir("/d"))
		},
		dirs: map[string]string{"/d": absent, "/": "[]"},
	}, {
		name: "new directory is empty until synced",
		run: func(t *testing.T, m *vfs.Mem) {
			must(t, m.Mkdir("/d", 0o755))
			must(t, m.SyncDir("/"))
			mustWrite(t, m, "/d/f", "data", true)
		},
		dirs: map[string]string{"/d": "[]"},
	}, {
		name: "MkdirAll survives",
		run: func(t *testing.T, m *vfs.Mem) {
			must(t, vfs.MkdirAll(m, "/a/b/c", 0o755))
			mustWrite(t, m, "/a/b/c/f", "deep", true)
			must(t, m.SyncDir("/a/b/c"))
		},
		files: map[string]string{"/a/b/c/f": "deep"},
		dirs:  map[string]string{"/": "[a]", "/a": "[b]", "/a/b": "[c]"},
	}, {
		name: "rename not synced reverts",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "v1", true)
			mustWrite(t, m, "/tmp", "v2", true)
			must(t, m.SyncDir("/"))
			must(t, m.Rename("/tmp", "/f"))
		},
		files: map[string]string{"/f": "v1", "/tmp": "v2"},
	}, {
		name: "rename of a new file not synced",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "v1", true)
			must(t, m.SyncDir("/"))
			mustWrite(t, m, "/tmp", "v2", true)
			must(t, m.Rename("/tmp", "/f"))
		},
		files: map[string]string{"/f": "v1", "/tmp": absent},
	}, {
		name: "rename synced",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "v1", true)
			must(t, m.SyncDir("/"))
			mustWrite(t, m, "/tmp", "v2", true)
			must(t, m.Rename("/tmp", "/f"))
			must(t, m.SyncDir("/"))
		},
		files: map[string]string{"/f": "v2", "/tmp": absent},
	}, {
		name: "rename synced but data not",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "v1", true)
			mustWrite(t, m, "/tmp", "v2", false)
			must(t, m.Rename("/tmp", "/f"))
			must(t, m.SyncDir("/"))
		},
		files: map[string]string{"/f": "", "/tmp": absent},
	}, {
		name: "directory rename not synced reverts",
		run: func(t *testing.T, m *vfs.Mem) {
			must(t, vfs.MkdirAll(m, "/a/b", 0o755))
			mustWrite(t, m, "/a/b/f", "x", true)
			must(t, m.SyncDir("/a/b"))
			must(t, m.Rename("/a", "/z"))
		},
		files: map[string]string{"/a/b/f": "x", "/z/b/f": absent},
	}, {
		name: "directory rename synced",
		run: func(t *testing.T, m *vfs.Mem) {
			must(t, vfs.MkdirAll(m, "/a/b", 0o755))
			mustWrite(t, m, "/a/b/f", "x", true)
			must(t, m.SyncDir("/a/b"))
			must(t, m.Rename("/a", "/z"))
			must(t, m.SyncDir("/"))
		},
		files: map[string]string{"/a/b/f": absent, "/z/b/f": "x"},
	}, {
		name: "remove not synced reverts",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "data", true)
			must(t, m.SyncDir("/"))
			must(t, m.Remove("/f"))
		},
		files: map[string]string{"/f": "data"},
	}, {
		name: "remove synced",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "data", true)
			must(t, m.SyncDir("/"))
			must(t, m.Remove("/f"))
			must(t, m.SyncDir("/"))
		},
		files: map[string]string{"/f": absent},
	}, {
		name: "removed file synced through an open handle",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "data", true)
			must(t, m.SyncDir("/"))
			f, err := m.OpenFile("/f", os.O_RDWR, 0)
			must(t, err)
			must(t, m.Remove("/f"))
			_, err = f.WriteAt([]byte("DA"), 0)
			must(t, err)
			must(t, f.Sync())
			must(t, f.Close())
		},
		files: map[string]string{"/f": "DAta"},
	}, {
		name: "truncate not synced reverts",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "data", true)
			must(t, m.SyncDir("/"))
			f, err := m.OpenFile("/f", os.O_RDWR, 0)
			must(t, err)
			must(t, f.Truncate(1))
			must(t, f.Close())
			mustWrite(t, m, "/g", "data", true)
			must(t, m.SyncDir("/"))
			mustWrite(t, m, "/g", "", false) // O_TRUNC
		},
		files: map[string]string{"/f": "data", "/g": "data"},
	}, {
		name: "truncate synced",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "data", true)
			must(t, m.SyncDir("/"))
			f, err := m.OpenFile("/f", os.O_RDWR, 0)
			must(t, err)
			must(t, f.Truncate(6))
			must(t, f.Sync())
			must(t, f.Truncate(1))
			must(t, f.Close())
		},
		files: map[string]string{"/f": "data\x00\x00"},
	}, {
		name: "directory synced through a handle",
		run: func(t *testing.T, m *vfs.Mem) {
			mustWrite(t, m, "/f", "data", true)
			d, err := m.OpenFile("/", os.O_RDONLY, 0)
			must(t, err)
			must(t, d.Sync())
			must(t, d.Close())
		},
		files: map[string]string{"/f": "data"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := vfs.NewMem()
			tc.run(t, m)
			before := m.String()
			disk := m.CrashClone(vfs.CrashOptions{})
			if after := m.String(); after != before {
				t.Errorf("CrashClone changed the original:\n%s\nthen\n%s", before, after)
			}
			for name, want := range tc.files {
				got, err := vfs.ReadFile(disk, name)
				switch {
				case want == absent && !errors.Is(err, fs.ErrNotExist):
					t.Errorf("%s: got %q, %v; want it absent", name, got, err)
				case want != absent && (err != nil || string(got) != want):
					t.Errorf("%s: got %q, %v; want %q", name, got, err, want)
				}
			}
			for name, want := range tc.dirs {
				names, err := disk.ReadDir(name)
				switch {
				case want == absent && !errors.Is(err, fs.ErrNotExist):
					t.Errorf("dir %s: got %v, %v; want it absent", name, names, err)
				case want != absent && (err != nil || fmt.Sprint(names) != want):
					t.Errorf("dir %s: got %v, %v; want %s", name, names, err, want)
				}
			}
			if t.Failed() {
				t.Logf("before the crash:\n%safter:\n%s", before, disk)
			}
			// Everything on the crashed disk is durable.
			if again := disk.CrashClone(vfs.CrashOptions{}).String(); again != disk.String() {
				t.Errorf("crashing the crashed disk changed it:\n%s\nthen\n%s", disk, again)
			}
		})
	}
}

func TestCrashCloneIndependent(t *testing.T) {
	m := vfs.NewMem()
	mustWrite(t, m, "/f", "orig", true)
	must(t, m.SyncDir("/"))
	disk := m.CrashClone(vfs.CrashOptions{})

	mustWrite(t, m, "/f", "ORIG", true) // same length: must not alias
	mustWrite(t, m, "/g", "new", true)
	must(t, m.SyncDir("/"))
	if got, _ := vfs.ReadFile(disk, "/f"); string(got) != "orig" {
		t.Errorf("write to the original leaked into the clone: %q", got)
	}
	if ok, _ := vfs.Exists(disk, "/g"); ok {
		t.Error("new file in the original appeared in the clone")
	}

	f, err := disk.OpenFile("/f", os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("CL"), 0)
	must(t, err)
	must(t, f.Sync())
	must(t, f.Close())
	must(t, disk.Remove("/f"))
	must(t, disk.SyncDir("/"))
	if got, _ := vfs.ReadFile(m, "/f"); string(got) != "ORIG" {
		t.Errorf("write to the clone leaked into the original: %q", got)
	}
	if got, _ := vfs.ReadFile(m.CrashClone(vfs.CrashOptions{}), "/f"); string(got) != "ORIG" {
		t.Errorf("sync in the clone leaked into the original's durable state: %q", got)
	}
}

// Writes in place, without changing the size, must not reach the other
// side's durable contents either.
func TestCrashCloneIndependentInPlace(t *testing.T) {
	m := vfs.NewMem()
	mustWrite(t, m, "/f", "abcd", true)
	must(t, m.SyncDir("/"))
	disk := m.CrashClone(vfs.CrashOptions{})
	for _, side := range []*vfs.Mem{disk, m} {
		f, err := side.OpenFile("/f", os.O_RDWR, 0)
		must(t, err)
		_, err = f.WriteAt([]byte("X"), 0)
		must(t, err)
		must(t, f.Close())
	}
	for name, side := range map[string]*vfs.Mem{"clone": disk, "original": m} {
		if got, _ := vfs.ReadFile(side.CrashClone(vfs.CrashOptions{}), "/f"); string(got) != "abcd" {
			t.Errorf("%s: unsynced in-place write became durable: %q", name, got)
		}
	}
}

func TestCrashCloneLocksNotCarried(t *testing.T) {
	m := vfs.NewMem()
	l, err := m.Lock("/LOCK")
	must(t, err)
	defer l.Close()
	must(t, m.SyncDir("/"))
	disk := m.CrashClone(vfs.CrashOptions{})
	l2, err := disk.Lock("/LOCK")
	if err != nil {
		t.Fatalf("lock on the crashed disk: %v", err)
	}
	l2.Close()
}

// A file renamed into a synced directory out of an unsynced one ends up
// with two names for one file.
func TestCrashCloneSharedInode(t *testing.T) {
	m := vfs.NewMem()
	must(t, vfs.MkdirAll(m, "/a", 0o755))
	must(t, vfs.MkdirAll(m, "/b", 0o755))
	mustWrite(t, m, "/a/f", "shared", true)
	must(t, m.SyncDir("/a"))
	must(t, m.Rename("/a/f", "/b/f"))
	must(t, m.SyncDir("/b"))
	disk := m.CrashClone(vfs.CrashOptions{})
	for _, name := range []string{"/a/f", "/b/f"} {
		if got, err := vfs.ReadFile(disk, name); err != nil || string(got) != "shared" {
			t.Fatalf("%s = %q, %v\n%s", name, got, err, disk)
		}
	}
	f, err := disk.OpenFile("/a/f", os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("S"), 0)
	must(t, err)
	must(t, f.Close())
	if got, _ := vfs.ReadFile(disk, "/b/f"); string(got) != "Shared" {
		t.Errorf("write through one name not seen through the other: %q", got)
	}
	must(t, disk.Rename("/a/f", "/b/f")) // the same file: no-op
	if ok, _ := vfs.Exists(disk, "/a/f"); !ok {
		t.Error("rename of a file onto another name of itself removed it")
	}
}

// The durable entries can form a cycle of directories; the clone must
// still be a tree.
func TestCrashCloneDirectoryCycle(t *testing.T) {
	m := vfs.NewMem()
	must(t, vfs.MkdirAll(m, "/A/B", 0o755)) // durable: / -> A -> B
	must(t, m.Rename("/A/B", "/B"))
	must(t, m.Rename("/A", "/B/A"))
	must(t, m.SyncDir("/B")) // durable: B -> A, so A -> B -> A
	disk := m.CrashClone(vfs.CrashOptions{})
	if got := disk.String(); got != "/\n/A/\n/A/B/\n" {
		t.Errorf("clone:\n%s", got)
	}
}

func TestCrashClonePartial(t *testing.T) {
	const bs = 4096
	block := func(c byte, n int) string { return strings.Repeat(string(c), n) }
	m := vfs.NewMem()
	must(t, m.Mkdir("/d", 0o755))
	mustWrite(t, m, "/d/durable", "keep", true)
	mustWrite(t, m, "/d/f", block('a', 2*bs), true)
	mustWrite(t, m, "/d/gone", "x", true)
	must(t, m.SyncDir("/d"))
	must(t, m.SyncDir("/"))
	// Unsynced: block 0 of f rewritten, block 2 appended, a new file, a removal.
	f, err := m.OpenFile("/d/f", os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte(block('b', bs)), 0)
	must(t, err)
	_, err = f.WriteAt([]byte(block('c', bs)), 2*bs)
	must(t, err)
	must(t, f.Close())
	mustWrite(t, m, "/d/new", "n", true)
	must(t, m.Remove("/d/gone"))

	seen := map[string]int{}
	for seed := range uint64(400) {
		disk := m.CrashClone(vfs.CrashOptions{Rand: rand.New(rand.NewPCG(seed, 1)), KeepUnsynced: 0.5})
		if got, err := vfs.ReadFile(disk, "/d/durable"); err != nil || string(got) != "keep" {
			t.Fatalf("seed %d: synced file lost: %q, %v", seed, got, err)
		}
		got, err := vfs.ReadFile(disk, "/d/f")
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if len(got) != 2*bs && len(got) != 3*bs {
			t.Fatalf("seed %d: length %d", seed, len(got))
		}
		switch string(got[:bs]) {
		case block('a', bs):
			seen["block 0 lost"]++
		case block('b', bs):
			seen["block 0 kept"]++
		default:
			t.Fatalf("seed %d: block 0 torn within the block", seed)
		}
		if string(got[bs:2*bs]) != block('a', bs) {
			t.Fatalf("seed %d: synced block 1 lost", seed)
		}
		if len(got) == 3*bs {
			switch string(got[2*bs:]) {
			case block('c', bs):
				seen["block 2 kept"]++
			case block(0, bs):
				seen["block 2 zero"]++
			default:
				t.Fatalf("seed %d: block 2 torn", seed)
			}
		} else {
			seen["short"]++
		}
		for name, key := range map[string]string{"/d/new": "new", "/d/gone": "gone"} {
			ok, _ := vfs.Exists(disk, name)
			seen[fmt.Sprint(key, " ", ok)]++
		}
	}
	for _, k := range []string{"block 0 lost", "block 0 kept", "block 2 kept", "block 2 zero", "short",
		"new true", "new false", "gone true", "gone false"} {
		if seen[k] == 0 {
			t.Errorf("outcome %q never happened: %v", k, seen)
		}
	}

	// The same seed gives the same disk; KeepUnsynced 0 gives the durable state.
	a := m.CrashClone(vfs.CrashOptions{Rand: rand.New(rand.NewPCG(7, 7)), KeepUnsynced: 0.5})
	b := m.CrashClone(vfs.CrashOptions{Rand: rand.New(rand.NewPCG(7, 7)), KeepUnsynced: 0.5})
	if !sameDisk(t, a, b) {
		t.Errorf("same seed, different disks:\n%s\n%s", a, b)
	}
	c := m.CrashClone(vfs.CrashOptions{Rand: rand.New(rand.NewPCG(7, 7))})
	if !sameDisk(t, c, m.CrashClone(vfs.CrashOptions{})) {
		t.Errorf("KeepUnsynced 0 kept unsynced changes:\n%s", c)
	}
}

// sameDisk reports whether a and b hold the same names and contents.
func sameDisk(t *testing.T, a, b *vfs.Mem) bool {
	t.Helper()
	if a.String() != b.String() {
		return false
	}
	var walk func(dir string) bool
	walk = func(dir string) bool {
		names, err := a.ReadDir(dir)
		must(t, err)
		for _, name := range names {
			p := filepath.Join(dir, name)
			if info, _ := a.Stat(p); info.IsDir() {
				if !walk(p) {
					return false
				}
				continue
			}
			ca, _ := vfs.ReadFile(a, p)
			cb, _ := vfs.ReadFile(b, p)
			if !bytes.Equal(ca, cb) {
				return false
			}
		}
		return true
	}
	return walk("/")
}

func TestMemString(t *testing.T) {
	m := vfs.NewMem()
	must(t, vfs.MkdirAll(m, "/d", 0o755))
	mustWrite(t, m, "/d/a", "12345", true)
	mustWrite(t, m, "/d/gone", "", true)
	must(t, m.SyncDir("/d"))
	mustWrite(t, m, "/d/b", "xy", false)
	must(t, m.Remove("/d/gone"))
	want := "/\n/d/\n/d/a 5\n/d/b 2 (entry not synced; data not synced, 0 bytes durable)\n/d/gone (removed; removal not synced)\n"
	if got := m.String(); got != want {
		t.Errorf("String:\n%s\nwant:\n%s", got, want)
	}
}

func TestLock(t *testing.T) {
	fss := map[string]func(t *testing.T) (vfs.FS, string){
		"Mem": func(t *testing.T) (vfs.FS, string) { return vfs.NewMem(), "/" },
		"OS": func(t *testing.T) (vfs.FS, string) {
			switch runtime.GOOS {
			case "windows", "plan9", "js", "wasip1":
				t.Skip("no advisory locks on " + runtime.GOOS)
			}
			return vfs.OS, t.TempDir()
		},
	}
	for name, newFS := range fss {
		t.Run(name, func(t *testing.T) {
			fsys, dir := newFS(t)
			p := filepath.Join(dir, "LOCK")
			l1, err := fsys.Lock(p)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := vfs.Exists(fsys, p); !ok {
				t.Errorf("Lock did not create the file: %v", err)
			}
			if l, err := fsys.Lock(p); !errors.Is(err, vfs.ErrLocked) {
				t.Errorf("second Lock: %v, want ErrLocked", err)
				if l != nil {
					l.Close()
				}
			}
			other, err := fsys.Lock(filepath.Join(dir, "OTHER"))
			if err != nil {
				t.Errorf("Lock of another file: %v", err)
			} else {
				must(t, other.Close())
			}
			must(t, l1.Close())
			l2, err := fsys.Lock(p)
			if err != nil {
				t.Fatalf("Lock after release: %v", err)
			}
			must(t, l2.Close())
		})
	}
	m := vfs.NewMem()
	l, err := m.Lock("dir/../LOCK")
	must(t, err)
	if _, err := m.Lock("/LOCK"); !errors.Is(err, vfs.ErrLocked) {
		t.Errorf("Lock of the same cleaned path: %v", err)
	}
	must(t, l.Close())
	if err := l.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := m.Lock("/nodir/LOCK"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lock in a missing directory: %v", err)
	}
}

func TestMemConcurrent(t *testing.T) {
	m := vfs.NewMem()
	shared, err := m.OpenFile("/shared", os.O_RDWR|os.O_CREATE, 0o644)
	must(t, err)
	defer shared.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("/f%d", g)
			buf := make([]byte, 64)
			for i := range 100 {
				if err := writeFile(m, name, fmt.Sprint(i)); err != nil {
					t.Error(err)
				}
				if _, err := shared.WriteAt([]byte{byte(g)}, int64(g*100+i)); err != nil {
					t.Error(err)
				}
				if _, err := shared.ReadAt(buf, int64(i)); err != nil && err != io.EOF {
					t.Error(err)
				}
				if i%10 == 0 {
					m.CrashClone(vfs.CrashOptions{})
					if err := m.SyncDir("/"); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if size, _ := shared.Size(); size != 800 {
		t.Errorf("shared size %d, want 800", size)
	}
	names, err := m.ReadDir("/")
	if err != nil || len(names) != 9 {
		t.Errorf("ReadDir = %v, %v", names, err)
	}
}

// writeFile is mustWrite, syncing, for goroutines other than the test's.
func writeFile(fsys vfs.FS, name, data string) error {
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte(data))
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Sync copies only what changed since the last one; whatever the mix of
// writes, truncations and reopens with O_TRUNC, the durable contents (what
// a crash keeps) must equal the file as it was at its last Sync.
func TestMemSyncKeepsExactlyTheSyncedContents(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	for round := range 200 {
		m := vfs.NewMem()
		f, err := m.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		var cur, synced []byte
		for step := range 40 {
			switch rnd.IntN(5) {
			case 0, 1: // write somewhere, maybe past the end
				off := rnd.IntN(len(cur) + 64)
				p := make([]byte, 1+rnd.IntN(48))
				for i := range p {
					p[i] = byte(1 + rnd.IntN(255))
				}
				if _, err := f.WriteAt(p, int64(off)); err != nil {
					t.Fatal(err)
				}
				if end := off + len(p); end > len(cur) {
					cur = append(cur, make([]byte, end-len(cur))...)
				}
				copy(cur[off:], p)
			case 2: // shrink or grow, often back to the synced size
				size := rnd.IntN(len(cur) + 64)
				if rnd.IntN(2) == 0 {
					size = len(synced)
				}
				if err := f.Truncate(int64(size)); err != nil {
					t.Fatal(err)
				}
				if size <= len(cur) {
					cur = cur[:size]
				} else {
					cur = append(cur, make([]byte, size-len(cur))...)
				}
			case 3: // reopen, sometimes emptying the file
				f.Close()
				flag := os.O_RDWR
				if rnd.IntN(3) == 0 {
					flag |= os.O_TRUNC
					cur = cur[:0]
				}
				if f, err = m.OpenFile("/f", flag, 0); err != nil {
					t.Fatal(err)
				}
			case 4:
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				synced = slices.Clone(cur)
			}
			if err := m.SyncDir("/"); err != nil {
				t.Fatal(err)
			}
			got, err := vfs.ReadFile(m.CrashClone(vfs.CrashOptions{}), "/f")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, synced) {
				t.Fatalf("round %d step %d: durable contents %v, want %v", round, step, got, synced)
			}
			if now, _ := vfs.ReadFile(m, "/f"); !bytes.Equal(now, cur) {
				t.Fatalf("round %d step %d: contents %v, want %v", round, step, now, cur)
			}
		}
		f.Close()
	}
}

// Allocate and WriteVecAt are durable only after Sync, like WriteAt: a
// crash before it keeps the file as it was synced.
func TestMemAllocateAndVectorCrash(t *testing.T) {
	m := vfs.NewMem()
	f, err := m.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	must(t, err)
	must(t, m.SyncDir("/"))
	_, err = vfs.WriteVecAt(f, [][]byte{[]byte("ab"), []byte("cd")}, 0)
	must(t, err)
	must(t, f.Sync())
	must(t, vfs.Allocate(f, 4, 8192))
	_, err = vfs.WriteVecAt(f, [][]byte{[]byte("ef"), []byte("gh")}, 4)
	must(t, err)
	if size, _ := f.Size(); size != 8196 {
		t.Fatalf("size after Allocate = %d, want 8196", size)
	}
	if got, _ := vfs.ReadFile(m.CrashClone(vfs.CrashOptions{}), "/f"); string(got) != "abcd" {
		t.Fatalf("after a crash before Sync: %q, want the synced %q", got, "abcd")
	}
	must(t, f.Sync())
	got, _ := vfs.ReadFile(m.CrashClone(vfs.CrashOptions{}), "/f")
	if len(got) != 8196 || string(got[:8]) != "abcdefgh" || bytes.Count(got[8:], []byte{0}) != 8188 {
		t.Fatalf("after Sync: %d bytes, starting %q; want 8196: abcdefgh and zeros", len(got), got[:min(len(got), 8)])
	}
	// Allocate never shrinks nor overwrites.
	must(t, vfs.Allocate(f, 0, 4))
	if b, _ := vfs.ReadFile(m, "/f"); len(b) != 8196 || string(b[:8]) != "abcdefgh" {
		t.Fatalf("Allocate inside the file changed it: %d bytes, %q", len(b), b[:8])
	}
}
