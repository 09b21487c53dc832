// SPDX-License-Identifier: MIT OR Apache-2.0

// Package backup holds what the Backup calls of the mini packages share:
// the temporary directory a copy is written into, the rename that publishes
// it whole, and the fsyncs on the way.
//
// A backup of DST is written into DST.tmp, which holds a marker file
// (MarkerFile) before anything else; the marker is removed from DST after
// the rename, last. A DST without the marker is whole. A later backup to
// the same DST removes a DST.tmp that holds the marker or nothing, and a
// DST that holds the marker (what an earlier one cut short left), and
// refuses one that holds other files only (someone else's directory).
package backup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/mini-go/mini/vfs"
)

// ErrDestination means the destination of a backup exists and is not an
// empty directory (or its temporary directory exists and is not a backup's).
var ErrDestination = errors.New("mini: backup destination exists and is not empty")

// MarkerFile is created first in the temporary directory and removed last
// from the published one: a directory that holds it was left by a backup cut
// short.
const MarkerFile = ".mini-backup-partial"

// TmpSuffix is added to a destination's name for the directory the copy is
// written into.
const TmpSuffix = ".tmp"

// Begin checks that dst is free (missing, or an empty directory), removes a
// leftover dst.tmp of an earlier backup, and creates dst.tmp with its
// marker, durably. It returns dst.tmp.
func Begin(fsys vfs.FS, dst string) (string, error) {
	dst = filepath.Clean(dst)
	if err := removeCutShort(fsys, dst); err != nil {
		return "", err
	}
	if err := checkFree(fsys, dst); err != nil {
		return "", err
	}
	tmp := dst + TmpSuffix
	if ok, err := vfs.Exists(fsys, tmp); err != nil {
		return "", err
	} else if ok {
		// The marker is the first entry made durable in it: without
		// the marker, a directory left by a crash is empty.
		names, err := fsys.ReadDir(tmp)
		if err != nil {
			return "", err
		}
		if len(names) > 0 && !slices.Contains(names, MarkerFile) {
			return "", fmt.Errorf("%w: %s exists and is not a backup cut short (it has no %s)", ErrDestination, tmp, MarkerFile)
		}
		if err := RemoveAll(fsys, tmp); err != nil {
			return "", fmt.Errorf("mini: remove %s, left by a backup cut short: %w", tmp, err)
		}
	}
	if err := vfs.MkdirAll(fsys, filepath.Dir(tmp), 0o755); err != nil {
		return "", err
	}
	if err := fsys.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	// The marker is durable before anything else is written, so a crash
	// never leaves a dst.tmp that a later backup would refuse.
	f, err := fsys.OpenFile(filepath.Join(tmp, MarkerFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.SyncDir(tmp)
	}
	if err == nil {
		err = fsys.SyncDir(filepath.Dir(tmp))
	}
	if err != nil {
		return "", err
	}
	return tmp, nil
}

// removeCutShort removes dst if it is a directory that holds the marker:
// a backup cut short after its rename to dst (Finish failed, or the power
// did, before the marker's removal was durable).
func removeCutShort(fsys vfs.FS, dst string) error {
	info, err := fsys.Stat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || !info.IsDir() {
		return err
	}
	names, err := fsys.ReadDir(dst)
	if err != nil || !slices.Contains(names, MarkerFile) {
		return err
	}
	if err := RemoveAll(fsys, dst); err != nil {
		return fmt.Errorf("mini: remove %s, left by a backup cut short: %w", dst, err)
	}
	return fsys.SyncDir(filepath.Dir(dst))
}

// checkFree returns nil if dst does not exist or is an empty directory.
func checkFree(fsys vfs.FS, dst string) error {
	info, err := fsys.Stat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%w: %s is a file", ErrDestination, dst)
	}
	names, err := fsys.ReadDir(dst)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("%w: %s holds %d entries", ErrDestination, dst, len(names))
	}
	return nil
}

// Finish makes the copy in tmp durable (every directory in it fsync'd; the
// files were fsync'd as they were written), renames it to dst (replacing
// an empty dst directory), fsyncs dst's parent, then removes the marker
// and fsyncs dst. If a step after the rename fails, it removes dst: a
// failed backup leaves no dst without the marker.
func Finish(fsys vfs.FS, tmp, dst string) error {
	dst = filepath.Clean(dst)
	if err := syncTree(fsys, tmp); err != nil {
		return err
	}
	// An empty dst directory is replaced: rename(2) would, but os.Rename and
	// Mem refuse to; it is checked empty again, just before.
	if err := checkFree(fsys, dst); err != nil {
		return err
	}
	if ok, err := vfs.Exists(fsys, dst); err != nil {
		return err
	} else if ok {
		if err := fsys.Remove(dst); err != nil {
			return err
		}
	}
	if err := fsys.Rename(tmp, dst); err != nil {
		return err
	}
	err := fsys.SyncDir(filepath.Dir(dst))
	if err == nil {
		err = fsys.Remove(filepath.Join(dst, MarkerFile))
	}
	if err == nil {
		err = fsys.SyncDir(dst)
	}
	if err != nil {
		// The backup fails, so dst must not look like a whole copy (one
		// without the marker): it goes again. What a crash keeps of it
		// still holds the marker, whose removal was not made durable.
		RemoveAll(fsys, dst)
		return err
	}
	return nil
}

// Run makes a backup into dst: it calls Begin, copy with the temporary
// directory, then Finish, and Abort if copy or Finish fails. It returns
// the temporary directory, whose paths the copy's description names.
func Run(fsys vfs.FS, dst string, copy func(tmp string) error) (tmp string, err error) {
	if tmp, err = Begin(fsys, dst); err != nil {
		return "", err
	}
	if err = copy(tmp); err == nil {
		err = Finish(fsys, tmp, dst)
	}
	if err != nil {
		Abort(fsys, tmp)
		return "", err
	}
	return tmp, nil
}

// Abort removes tmp after a failed backup; its error is the caller's
// least concern, so it is dropped (a later backup removes the leftover).
func Abort(fsys vfs.FS, tmp string) {
	if tmp != "" {
		RemoveAll(fsys, tmp)
	}
}

// syncTree fsyncs dir and every directory below it.
func syncTree(fsys vfs.FS, dir string) error {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := filepath.Join(dir, name)
		info, err := fsys.Stat(p)
		if err != nil {
			return err
		}
		if info.IsDir() {
			if err := syncTree(fsys, p); err != nil {
				return err
			}
		}
	}
	return fsys.SyncDir(dir)
}

// RemoveAll deletes path and everything below it (a symbolic link, not
// what it points to). A path that is gone is no error. It syncs nothing.
func RemoveAll(fsys vfs.FS, path string) error {
	info, err := vfs.Lstat(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.IsDir() {
		names, err := fsys.ReadDir(path)
		if err != nil {
			return err
		}
		for _, name := range names {
			if err := RemoveAll(fsys, filepath.Join(path, name)); err != nil {
				return err
			}
		}
	}
	if err := fsys.Remove(path); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// CopyFile writes the n bytes of src from offset 0 to the new file dst,
// fsyncs and closes it, counting the bytes written in p (which may be nil).
func CopyFile(fsys vfs.FS, dst string, src io.ReaderAt, n int64, p *Progress) error {
	f, err := fsys.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	err = copyN(f, src, n, p)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mini: copy to %s: %w", dst, err)
	}
	return nil
}

// WriteFile writes b to the new file dst, fsyncs and closes it.
func WriteFile(fsys vfs.FS, dst string, b []byte) error {
	return CopyFile(fsys, dst, readerAt(b), int64(len(b)), nil)
}

type readerAt []byte

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r)) {
		return 0, io.EOF
	}
	n := copy(p, r[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func copyN(dst io.WriterAt, src io.ReaderAt, n int64, p *Progress) error {
	buf := make([]byte, min(n, 1<<20))
	for off := int64(0); off < n; {
		m := min(n-off, int64(len(buf)))
		k, err := src.ReadAt(buf[:m], off)
		if int64(k) < m {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // the source shrank under the copy
			}
			return err
		}
		if _, err := dst.WriteAt(buf[:m], off); err != nil {
			return err
		}
		off += m
		p.copied(m)
	}
	return nil
}
