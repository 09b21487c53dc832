// SPDX-License-Identifier: MIT OR Apache-2.0

package testutil

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/vfs"
)

// Progress records the reports of a BackupProgress callback (Report).
type Progress struct{ Done, Total []int64 }

// Report is the callback.
func (p *Progress) Report(done, total int64) {
	p.Done, p.Total = append(p.Done, done), append(p.Total, total)
}

// Check verifies the reports of a copy that did not start again: done
// never falls and never passes total, total never falls, and the last
// report has done == total == want (the bytes of the copied files).
func (p *Progress) Check(tb testing.TB, want int64) {
	tb.Helper()
	if len(p.Done) < 2 {
		tb.Fatalf("%d progress reports", len(p.Done))
	}
	for i := range p.Done {
		if p.Done[i] > p.Total[i] || i > 0 && (p.Done[i] < p.Done[i-1] || p.Total[i] < p.Total[i-1]) {
			tb.Fatalf("report %d: done %d total %d after done %v total %v", i, p.Done[i], p.Total[i], p.Done[:i], p.Total[:i])
		}
	}
	last := len(p.Done) - 1
	if p.Done[last] != want || p.Total[last] != want {
		tb.Fatalf("last report: done %d total %d, want both %d", p.Done[last], p.Total[last], want)
	}
}

// TreeBytes adds up the sizes of the files under dir on fsys, but those
// whose name is in skip.
func TreeBytes(tb testing.TB, fsys vfs.FS, dir string, skip ...string) int64 {
	tb.Helper()
	names, err := fsys.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	for _, name := range names {
		if slices.Contains(skip, name) {
			continue
		}
		info, err := fsys.Stat(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		if info.IsDir() {
			n += TreeBytes(tb, fsys, filepath.Join(dir, name), skip...)
		} else {
			n += info.Size()
		}
	}
	return n
}

// BackupLooksWhole reports whether the backup destination dst exists
// without the marker of a backup cut short: what a caller takes for a
// finished copy.
func BackupLooksWhole(tb testing.TB, fsys vfs.FS, dst string) bool {
	tb.Helper()
	if ok, err := vfs.Exists(fsys, dst); err != nil {
		tb.Fatal(err)
	} else if !ok {
		return false
	}
	names, err := fsys.ReadDir(dst)
	if err != nil {
		tb.Fatal(err)
	}
	return !slices.Contains(names, backup.MarkerFile)
}

// FailedBackupNotWhole checks that a Backup that failed (where says how)
// left nothing at dst that looks like a whole copy, on mem and on mem after
// a power loss; it returns the power-loss copy.
func FailedBackupNotWhole(tb testing.TB, mem *vfs.Mem, dst, where string) *vfs.Mem {
	tb.Helper()
	powerLoss := mem.CrashClone(vfs.CrashOptions{})
	if BackupLooksWhole(tb, mem, dst) {
		tb.Fatalf("%s: %s looks like a whole copy", where, dst)
	}
	if BackupLooksWhole(tb, powerLoss, dst) {
		tb.Fatalf("%s, then power loss: %s looks like a whole copy", where, dst)
	}
	return powerLoss
}
