// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFrontBoundNotAFile: something other than a regular file at
// NAME.front (a directory, a FIFO, a symbolic link to nothing) is damage:
// Open and the readers return a *JournalError naming NAME.front, without
// hanging (a FIFO blocks an open until a writer comes) and without taking
// the bound to be missing (which brings deleted records back).
func TestFrontBoundNotAFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(p string) error
	}{
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"dangling symlink", func(p string) error { return os.Symlink(p+".gone", p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			opts := &Options{MaxSegmentBytes: 200}
			s := openT[kv](t, path, opts)
			appendN(t, s, 1, 20)
			if err := s.TruncateFront(8); err != nil {
				t.Fatal(err)
			}
			s.Close()
			p := boundPath(path)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := tc.make(p); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			before := fi.Mode().Type()
			check := func(what string, f func() error) {
				t.Helper()
				done := make(chan error, 1)
				go func() { done <- f() }()
				select {
				case err := <-done:
					var je *JournalError
					if !errors.As(err, &je) || je.Path != p || !errors.Is(err, ErrCorrupt) {
						t.Errorf("%s = %v; want a JournalError on %s", what, err, p)
					}
				case <-time.After(5 * time.Second):
					// Unblock the open: a writer comes.
					if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
						f.Close()
					}
					t.Errorf("%s hangs", what)
				}
			}
			check("Open", func() error {
				s, err := Open[kv](path, opts)
				if err == nil {
					s.Close()
				}
				return err
			})
			check("Records", func() error {
				for _, err := range Records[kv](path, 0) {
					return err
				}
				return nil
			})
			check("Stat", func() error {
				info, err := Stat(path, nil)
				if err == nil {
					return info.Problem
				}
				return err
			})
			// Repair moves it aside; the journal opens, at its oldest
			// segment (the bound is lost), and no record below 8 is
			// in a segment of its own any more.
			rep, err := Repair(path)
			if err != nil || rep.Path != p {
				t.Fatalf("Repair = %+v, %v", rep, err)
			}
			if fi, err := os.Lstat(p + ".broken"); err != nil || fi.Mode().Type() != before {
				t.Fatalf("%s.broken: %v, %v; want the %s kept", p, fi, err, tc.name)
			}
			s = openT[kv](t, path, opts)
			defer s.Close()
			if first := s.FirstSeq(); first > 8 {
				t.Fatalf("FirstSeq = %d after Repair", first)
			}
		})
	}
}
