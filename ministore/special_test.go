// SPDX-License-Identifier: MIT OR Apache-2.0

//go:build unix

package ministore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/damagetest"
)

// Issue #13, item 4: a named pipe, a device or a directory where a journal
// file is expected is refused at once, by Open and every reader (before
// the fix, Replay on a pipe blocked for ever and Open said "illegal seek").
func TestSpecialFilesRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, dir string) // makes the special file
		kind string
	}{
		{"named pipe as the journal", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "j.log"), 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, "a named pipe"},
		{"named pipe as a sealed segment", func(t *testing.T, dir string) {
			writeJournal(t, filepath.Join(dir, "j.log"), 3, nil)
			if err := syscall.Mkfifo(filepath.Join(dir, "j.log.001"), 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, "a named pipe"},
		{"device as the journal", func(t *testing.T, dir string) {
			// /dev/null's numbers; needs root (or CAP_MKNOD).
			if err := syscall.Mknod(filepath.Join(dir, "j.log"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
				t.Skipf("mknod: %v", err)
			}
		}, "a character device"},
		{"symbolic link to a device as the journal", func(t *testing.T, dir string) {
			if err := os.Symlink("/dev/null", filepath.Join(dir, "j.log")); err != nil {
				t.Skipf("symlink: %v", err)
			}
		}, "a symbolic link"},
		{"symbolic link to a journal", func(t *testing.T, dir string) {
			writeJournal(t, filepath.Join(dir, "real.log"), 3, nil)
			if err := os.Symlink("real.log", filepath.Join(dir, "j.log")); err != nil {
				t.Skipf("symlink: %v", err)
			}
		}, "a symbolic link"},
		{"symbolic link as a sealed segment", func(t *testing.T, dir string) {
			writeJournal(t, filepath.Join(dir, "j.log"), 3, nil)
			if err := os.Symlink("j.log", filepath.Join(dir, "j.log.001")); err != nil {
				t.Skipf("symlink: %v", err)
			}
		}, "a symbolic link"},
		{"directory as a sealed segment", func(t *testing.T, dir string) {
			writeJournal(t, filepath.Join(dir, "j.log"), 3, nil)
			if err := os.Mkdir(filepath.Join(dir, "j.log.001"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "j.log")
			tc.make(t, dir)
			errs := map[string]error{}
			err := damagetest.Guard(5*time.Second, func() {
				_, errs["Open"] = Open[kv](path, quietOptions(Options{}, nil))
				_, errs["Replay"] = Replay[kv](path)
				for _, err := range Records[kv](path, 1) {
					errs["Records"] = err
					break
				}
				_, errs["Inspect"] = Inspect(path, nil)
				_, _, errs["Bounds"] = Bounds(path)
			})
			if err != nil {
				// A blocked open leaves its goroutine waiting on the pipe:
				// open the other end so it can finish.
				if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
					f.Close()
				}
				t.Fatal(err)
			}
			for what, err := range errs {
				if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tc.kind) {
					t.Errorf("%s: %v, want ErrNotRegular saying %q", what, err, tc.kind)
				}
			}
		})
	}
}

// A journal opened through a symbolic link took the link's lock
// (link.lock), not the journal's: a writer through the link and one
// through the file both appended to one file, and the acknowledged records
// of one overwrote the other's. Open refuses the link, and takes no lock.
func TestSymlinkDoesNotBypassTheLock(t *testing.T) {
	dir := t.TempDir()
	real, link := filepath.Join(dir, "real.log"), filepath.Join(dir, "link.log")
	s := openT[kv](t, real, quietOptions(Options{}, nil))
	defer s.Close()
	if err := os.Symlink("real.log", link); err != nil {
		t.Skipf("symlink: %v", err)
	}
	s2, err := Open[kv](link, quietOptions(Options{}, nil))
	if err == nil {
		s2.Close()
		t.Fatal("a second writer opened the journal through a symbolic link")
	}
	if !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Open through a link: %v, want ErrNotRegular", err)
	}
	if _, err := os.Lstat(link + ".lock"); err == nil {
		t.Error("Open left a lock file for the link")
	}
}
