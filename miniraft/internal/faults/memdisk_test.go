// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// TestPowerLoss checks the disk-loss nemesis's mechanics: a folder loaded
// into memory, written to, then "powered off", is left on the real disk
// with what was fsync'd and without what was not.
func TestPowerLoss(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "old"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	disk, err := loadMemDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, data string, sync bool) {
		f, err := disk.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
		if sync {
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := disk.SyncDir(filepath.Dir(filepath.Join(dir, name))); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("log", "synced;", true)
	write("log", "unsynced", false)
	write("sub/old", "+more", false)
	write("new", "never synced", false)
	if err := powerLoss(disk, dir, 1, 0); err != nil {
		t.Fatal(err)
	}
	// After the crash, the memory disk refuses everything.
	if _, err := disk.Stat(dir); !errors.Is(err, vfs.ErrCrashed) {
		t.Fatalf("stat after the power loss: %v", err)
	}
	for name, want := range map[string]string{"log": "synced;", "sub/old": "old"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file whose folder was never synced survived: %v", err)
	}
	if _, err := os.Stat(dir + ".crash"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the crash image's temporary folder is left: %v", err)
	}
}
