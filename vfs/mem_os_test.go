// SPDX-License-Identifier: MIT OR Apache-2.0

package vfs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// env runs steps against one file system under root.
type env struct {
	t    *testing.T
	fsys vfs.FS
	root string
}

func (e env) p(name string) string {
	if e.root == "" {
		return name
	}
	return filepath.Join(e.root, name)
}

// describe reduces an error to the text of the underlying error, so that
// the same failure reads the same from OS and Mem.
func describe(err error) string {
	if err == nil {
		return "ok"
	}
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	s := "error: " + err.Error()
	if errors.Is(err, fs.ErrNotExist) {
		s += " [ErrNotExist]"
	}
	if errors.Is(err, fs.ErrExist) {
		s += " [ErrExist]"
	}
	return s
}

// write creates or rewrites name with data and reports the outcome.
func (e env) write(name string, flag int, data string) string {
	f, err := e.fsys.OpenFile(e.p(name), flag, 0o644)
	if err != nil {
		return "open: " + describe(err)
	}
	defer f.Close()
	n, err := f.Write([]byte(data))
	return fmt.Sprintf("write n=%d %s", n, describe(err))
}

// content reads name whole.
func (e env) content(name string) string {
	b, err := vfs.ReadFile(e.fsys, e.p(name))
	if err != nil {
		return "read: " + describe(err)
	}
	return fmt.Sprintf("%q", b)
}

func (e env) readDir(name string) string {
	names, err := e.fsys.ReadDir(e.p(name))
	if err != nil {
		return "readdir: " + describe(err)
	}
	return fmt.Sprint(names)
}

// withFile opens name and runs fn on the handle.
func (e env) withFile(name string, flag int, fn func(f vfs.File) string) string {
	f, err := e.fsys.OpenFile(e.p(name), flag, 0o644)
	if err != nil {
		return "open: " + describe(err)
	}
	defer f.Close()
	return fn(f)
}

func readN(f vfs.File, n int) string {
	buf := make([]byte, n)
	m, err := f.Read(buf)
	return fmt.Sprintf("read %q %s", buf[:m], describe(err))
}

func readAt(f vfs.File, n int, off int64) string {
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, off)
	return fmt.Sprintf("readat %q %s", buf[:m], describe(err))
}

// osSteps is a sequence of operations, each depending on the ones before,
// whose outcomes must be the same on the OS and on Mem.
var osSteps = []struct {
	name string
	run  func(e env) string
}{
	{"mkdir", func(e env) string { return describe(e.fsys.Mkdir(e.p("a"), 0o755)) }},
	{"mkdir existing", func(e env) string { return describe(e.fsys.Mkdir(e.p("a"), 0o755)) }},
	{"mkdir missing parent", func(e env) string { return describe(e.fsys.Mkdir(e.p("x/y"), 0o755)) }},
	{"create excl", func(e env) string { return e.write("a/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, "hello") }},
	{"create excl existing", func(e env) string { return e.write("a/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, "x") }},
	{"open missing", func(e env) string { return e.content("a/missing") }},
	{"open missing dir", func(e env) string { return e.write("nodir/f", os.O_RDWR|os.O_CREATE, "x") }},
	{"sequential read and write", func(e env) string {
		return e.withFile("a/f", os.O_RDWR, func(f vfs.File) string {
			s := []string{readN(f, 3), readN(f, 10), readN(f, 10), readN(f, 0)}
			n, err := f.Write([]byte("XY"))
			s = append(s, fmt.Sprint(n, describe(err)), readAt(f, 20, 0))
			return strings.Join(s, "; ")
		})
	}},
	{"writeat past end", func(e env) string {
		return e.withFile("a/f", os.O_RDWR, func(f vfs.File) string {
			n, err := f.WriteAt([]byte("Z"), 10)
			size, serr := f.Size()
			return fmt.Sprint(n, describe(err), size, describe(serr), readAt(f, 5, 8), readAt(f, 0, 100))
		})
	}},
	{"content", func(e env) string { return e.content("a/f") }},
	{"truncate", func(e env) string {
		return e.withFile("a/f", os.O_RDWR, func(f vfs.File) string {
			s := []string{describe(f.Truncate(3)), readAt(f, 20, 0), describe(f.Truncate(6)), readAt(f, 20, 0)}
			s = append(s, describe(f.Truncate(1)))
			_, err := f.WriteAt([]byte("q"), 4)
			return strings.Join(append(s, describe(err), readAt(f, 20, 0)), "; ")
		})
	}},
	{"write empty far away", func(e env) string {
		return e.withFile("a/f", os.O_RDWR, func(f vfs.File) string {
			n, err := f.WriteAt(nil, 1000)
			size, _ := f.Size()
			return fmt.Sprint(n, describe(err), size)
		})
	}},
	{"writevecat", func(e env) string {
		return e.withFile("a/v", os.O_RDWR|os.O_CREATE, func(f vfs.File) string {
			n1, err1 := vfs.WriteVecAt(f, [][]byte{[]byte("ab"), nil, []byte("cd")}, 2)
			n2, err2 := vfs.WriteVecAt(f, [][]byte{[]byte("only")}, 10)
			// More buffers than one pwritev takes (IOV_MAX, 1024).
			many := make([][]byte, 1500)
			for i := range many {
				many[i] = []byte{'a' + byte(i%26)}
			}
			n3, err3 := vfs.WriteVecAt(f, many, 20)
			n4, err4 := vfs.WriteVecAt(f, nil, 5000)
			size, _ := f.Size()
			return fmt.Sprint(n1, describe(err1), n2, describe(err2), n3, describe(err3), n4, describe(err4), size,
				readAt(f, 30, 0), readAt(f, 30, 1490))
		})
	}},
	{"writevecat read-only", func(e env) string {
		return e.withFile("a/v", os.O_RDONLY, func(f vfs.File) string {
			_, err1 := vfs.WriteVecAt(f, [][]byte{[]byte("x"), []byte("y")}, 0)
			_, err2 := vfs.WriteVecAt(f, [][]byte{[]byte("x")}, 0)
			return describe(err1) + "; " + describe(err2)
		})
	}},
	{"allocate", func(e env) string {
		if runtime.GOOS != "linux" {
			return "fallocate is Linux's"
		}
		return e.withFile("a/v", os.O_RDWR, func(f vfs.File) string {
			var s []string
			for _, r := range [][2]int64{{0, 100}, {8000, 192}, {0, 8192}, {-1, 10}, {0, 0}} {
				err := vfs.Allocate(f, r[0], r[1])
				size, _ := f.Size()
				s = append(s, fmt.Sprint(describe(err), size))
			}
			return strings.Join(append(s, readAt(f, 8, 1518), readAt(f, 4, 8190)), "; ")
		})
	}},
	{"allocate read-only", func(e env) string {
		if runtime.GOOS != "linux" {
			return "fallocate is Linux's"
		}
		return e.withFile("a/v", os.O_RDONLY, func(f vfs.File) string { return describe(vfs.Allocate(f, 0, 1<<20)) })
	}},
	{"append", func(e env) string { return e.write("a/f", os.O_WRONLY|os.O_APPEND, "++") + " " + e.content("a/f") }},
	{"read-only handle", func(e env) string {
		return e.withFile("a/f", os.O_RDONLY, func(f vfs.File) string {
			_, werr := f.Write([]byte("x"))
			_, waerr := f.WriteAt([]byte("x"), 0)
			return strings.Join([]string{describe(werr), describe(waerr), describe(f.Truncate(0)), readAt(f, 2, 0)}, "; ")
		})
	}},
	{"write-only handle", func(e env) string {
		return e.withFile("a/f", os.O_WRONLY, func(f vfs.File) string {
			return readN(f, 1) + "; " + readAt(f, 1, 0)
		})
	}},
	{"closed handle", func(e env) string {
		f, err := e.fsys.OpenFile(e.p("a/f"), os.O_RDWR, 0)
		if err != nil {
			return describe(err)
		}
		name := f.Name() == e.p("a/f")
		cerr := f.Close()
		_, werr := f.Write([]byte("x"))
		_, rerr := f.ReadAt(make([]byte, 1), 0)
		_, serr := f.Size()
		// Not Sync: OS's fdatasync of a closed file fails with EBADF.
		return fmt.Sprint(name, describe(cerr), describe(werr), describe(rerr), describe(serr),
			describe(f.Truncate(0)), describe(f.Close()))
	}},
	{"truncate on open", func(e env) string { return e.write("a/g", os.O_RDWR|os.O_CREATE|os.O_TRUNC, "") + e.content("a/g") }},
	{"stat", func(e env) string {
		fi, err := e.fsys.Stat(e.p("a/f"))
		di, derr := e.fsys.Stat(e.p("a"))
		if err != nil || derr != nil {
			return describe(err) + describe(derr)
		}
		return fmt.Sprint(fi.Name(), fi.Size(), fi.IsDir(), fi.Mode().IsRegular(), di.Name(), di.IsDir(), di.Mode().IsDir())
	}},
	{"stat missing", func(e env) string { _, err := e.fsys.Stat(e.p("a/nope")); return describe(err) }},
	{"readdir", func(e env) string { return e.readDir("a") }},
	{"readdir file", func(e env) string { return e.readDir("a/f") }},
	{"readdir missing", func(e env) string { return e.readDir("nope") }},
	{"open under file", func(e env) string { return e.write("a/f/x", os.O_RDWR|os.O_CREATE, "x") }},
	{"remove non-empty dir", func(e env) string { return describe(e.fsys.Remove(e.p("a"))) }},
	{"rename", func(e env) string {
		return describe(e.fsys.Rename(e.p("a/f"), e.p("a/h"))) + e.readDir("a") + e.content("a/h")
	}},
	{"rename over file", func(e env) string {
		return e.write("a/g", os.O_WRONLY, "G") + describe(e.fsys.Rename(e.p("a/g"), e.p("a/h"))) + e.readDir("a") + e.content("a/h")
	}},
	{"rename to itself", func(e env) string { return describe(e.fsys.Rename(e.p("a/h"), e.p("a/h"))) + e.content("a/h") }},
	{"rename missing", func(e env) string { return describe(e.fsys.Rename(e.p("a/nope"), e.p("a/x"))) }},
	{"rename into missing dir", func(e env) string { return describe(e.fsys.Rename(e.p("a/h"), e.p("nope/h"))) }},
	{"rename dir tree", func(e env) string {
		s := []string{describe(e.fsys.Mkdir(e.p("a/d"), 0o755)), describe(e.fsys.Mkdir(e.p("a/d/e"), 0o755)),
			e.write("a/d/e/f", os.O_WRONLY|os.O_CREATE, "deep"), describe(e.fsys.Rename(e.p("a/d"), e.p("b")))}
		return strings.Join(append(s, e.content("b/e/f"), e.readDir("a"), e.readDir("b")), "; ")
	}},
	{"rename file over dir", func(e env) string { return describe(e.fsys.Rename(e.p("a/h"), e.p("b"))) }},
	{"rename dir over file", func(e env) string { return describe(e.fsys.Rename(e.p("b"), e.p("a/h"))) }},
	{"rename dir into itself", func(e env) string { return describe(e.fsys.Rename(e.p("b"), e.p("b/e/x"))) }},
	{"rename dir over non-empty dir", func(e env) string {
		return describe(e.fsys.Mkdir(e.p("c"), 0o755)) + describe(e.fsys.Rename(e.p("c"), e.p("b")))
	}},
	{"rename dir over empty dir", func(e env) string {
		return describe(e.fsys.Mkdir(e.p("c2"), 0o755)) + describe(e.fsys.Rename(e.p("b"), e.p("c2"))) + e.readDir("c2")
	}},
	{"rename dir", func(e env) string {
		return describe(e.fsys.Rename(e.p("b"), e.p("c2/b"))) + e.readDir("c2") + e.readDir("c2/b") + e.readDir("b")
	}},
	{"open dir", func(e env) string {
		_, err := e.fsys.OpenFile(e.p("c2"), os.O_RDWR, 0)
		return describe(err) + "; " + e.withFile("c2", os.O_RDONLY, func(f vfs.File) string { return readN(f, 1) })
	}},
	{"remove", func(e env) string {
		return describe(e.fsys.Remove(e.p("a/h"))) + describe(e.fsys.Remove(e.p("a/h"))) + describe(e.fsys.Remove(e.p("a"))) + e.readDir("a")
	}},
	{"exists", func(e env) string {
		ok1, err1 := vfs.Exists(e.fsys, e.p("c2/b/e/f"))
		ok2, err2 := vfs.Exists(e.fsys, e.p("a"))
		return fmt.Sprint(ok1, err1, ok2, err2)
	}},
}

func TestMemMatchesOS(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("error texts are compared with those of Linux and Darwin")
	}
	osEnv := env{t, vfs.OS, t.TempDir()}
	want := make([]string, len(osSteps))
	for i, s := range osSteps {
		want[i] = s.run(osEnv)
	}
	for _, root := range []string{"/", "", "/mnt/sub"} {
		t.Run(fmt.Sprintf("root=%q", root), func(t *testing.T) {
			m := vfs.NewMem()
			if err := vfs.MkdirAll(m, root, 0o755); err != nil && root != "" {
				t.Fatal(err)
			}
			e := env{t, m, root}
			for i, s := range osSteps {
				if got := s.run(e); got != want[i] {
					t.Errorf("step %d %s:\n Mem: %s\n  OS: %s", i, s.name, got, want[i])
				}
			}
		})
	}
}
