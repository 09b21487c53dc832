// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzArgs runs the read-only commands with arbitrary flag values and
// paths: mini never panics, and exits 0, 1 or 2 with at most one line on
// stderr.
func FuzzArgs(f *testing.F) {
	rot := filepath.Join(fixtures, "journal-rotated", "rot.log")
	f.Add("log", "cat", "--from", "3", rot)
	f.Add("log", "cat", "--to", "-1", rot)
	f.Add("log", "stat", "--json", "x", rot)
	f.Add("snap", "ls", "--bogus", "", filepath.Join(fixtures, "minisnap-basic"))
	f.Add("state", "show", "--journal", "../../etc", filepath.Join(fixtures, "ministate-snapshot"))
	f.Add("log", "verify", "--from=\x00", "\xff", rot)
	f.Fuzz(func(t *testing.T, group, cmd, flag, value, path string) {
		switch group {
		case "log", "snap", "state":
		default:
			group = "log"
		}
		switch cmd {
		case "cat", "stat", "verify", "ls", "show":
		default:
			cmd = "cat" // never repair, compact, tail -f or bench: they write, wait or run long
		}
		if strings.Contains(flag, "follow") || strings.HasPrefix(flag, "-f") {
			flag = "--json"
		}
		var stderr strings.Builder
		code := run([]string{group, cmd, flag, value, path}, io.Discard, &stderr)
		if code < 0 || code > 2 {
			t.Fatalf("exit code %d", code)
		}
		if n := strings.Count(stderr.String(), "\n"); n > 1 && cmd != "show" && cmd != "verify" {
			t.Fatalf("%d lines on stderr: %q", n, stderr.String())
		}
	})
}
