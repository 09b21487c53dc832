// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/vfs"
)

// copyTree copies the directory srcDir of src, with everything in it, to
// dstDir of dst, syncing every file and directory it creates there. dstDir
// must not exist yet in dst (its parents may).
func copyTree(dst vfs.FS, dstDir string, src vfs.FS, srcDir string) error {
	if err := vfs.MkdirAll(dst, filepath.Dir(dstDir), 0o755); err != nil {
		return err
	}
	if err := dst.Mkdir(dstDir, 0o755); err != nil {
		return err
	}
	names, err := src.ReadDir(srcDir)
	if err != nil {
		return err
	}
	for _, name := range names {
		from, to := filepath.Join(srcDir, name), filepath.Join(dstDir, name)
		info, err := src.Stat(from)
		if err != nil {
			return err
		}
		if info.IsDir() {
			if err := copyTree(dst, to, src, from); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(dst, to, src, from); err != nil {
			return err
		}
	}
	if err := dst.SyncDir(dstDir); err != nil {
		return err
	}
	return dst.SyncDir(filepath.Dir(dstDir))
}

func copyFile(dst vfs.FS, to string, src vfs.FS, from string) error {
	in, err := src.OpenFile(from, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := dst.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// loadMemDisk returns a Mem holding the directory dir of the real disk, at
// the same path, all of it durable, wrapped in a Faulty that can crash it.
func loadMemDisk(dir string) (*vfs.Faulty, error) {
	mem := vfs.NewMem()
	if _, err := os.Stat(dir); err == nil {
		if err := copyTree(mem, dir, vfs.OS, dir); err != nil {
			return nil, fmt.Errorf("load %s into memory: %w", dir, err)
		}
	} else if err := vfs.MkdirAll(mem, dir, 0o755); err != nil {
		return nil, err
	}
	return vfs.NewFaulty(mem), nil
}

// powerLoss crashes the in-memory disk now (every later file operation
// fails, so nothing written after this instant is acknowledged) and
// replaces the directory dir on the real disk with what the crash left: the
// data as of its last fsync, and, with probability keep for each unsynced
// change, some of what was written after (vfs.Mem.CrashClone).
func powerLoss(disk *vfs.Faulty, dir string, seed uint64, keep float64) error {
	disk.SetCrashOptions(vfs.CrashOptions{Rand: newRand(seed), KeepUnsynced: keep})
	image := disk.Crash()
	tmp := dir + ".crash"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := copyTree(vfs.OS, tmp, image, dir); err != nil {
		return fmt.Errorf("write the crash image of %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}
