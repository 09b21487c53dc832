// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/mini-go/mini/vfs"
)

// A RepairReport says what Repair found and did.
type RepairReport struct {
	// Problem is the damage found: a *JournalError, or nil if the journal
	// was sound. A torn tail is reported as a *JournalError too.
	Problem error
	// Path, Line and Offset locate the first bad record; the file now ends
	// at Offset.
	Path   string
	Line   int
	Offset int64
	// Cut is how many bytes were removed from Path, and Removed lists the
	// later segments that were moved aside whole.
	Cut     int64
	Removed []string
	// Saved lists the files that now hold everything that was cut:
	// Path+".broken" for the end of Path, and each removed segment
	// renamed with a ".broken" suffix.
	Saved []string
}

// Repair truncates the journal at path at its first bad record and keeps a
// copy of everything it cuts (see RepairReport.Saved), so that Open and
// Replay succeed again. Later segments are moved aside whole: a log must not
// have a hole. It takes the journal's lock, so the journal must not be open.
// On a sound journal it changes nothing and returns a report with a nil
// Problem.
func Repair(path string) (*RepairReport, error) { return repairFS(vfs.OS, path) }

func repairFS(fsys vfs.FS, path string) (*RepairReport, error) {
	lock, err := fsys.Lock(path + ".lock")
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, err
	}
	defer lock.Close()
	info, files, err := inspect(fsys, path, nil)
	if err != nil {
		return nil, err
	}
	rep := &RepairReport{Problem: info.Problem}
	var je *JournalError
	if !errors.As(info.Problem, &je) {
		return rep, nil
	}
	rep.Path, rep.Line, rep.Offset = je.Path, je.Line, je.Offset
	bad := slices.IndexFunc(files, func(f segmentFile) bool { return f.path == je.Path })
	if bad < 0 {
		return rep, fmt.Errorf("ministore: repair: %s is no longer there", je.Path)
	}
	dir := dirOf(path)
	// Move the later segments aside, the newest first, so a crash leaves a
	// prefix of the log.
	for i := len(files) - 1; i > bad; i-- {
		saved, err := moveAside(fsys, files[i].path)
		if err != nil {
			return rep, err
		}
		rep.Removed = append(rep.Removed, files[i].path)
		rep.Saved = append(rep.Saved, saved)
	}
	target := files[bad].path
	if rep.Offset == 0 {
		// The header itself is bad: move the whole file aside.
		saved, err := moveAside(fsys, target)
		if err != nil {
			return rep, err
		}
		rep.Removed = append(rep.Removed, target)
		rep.Saved = append(rep.Saved, saved)
		return rep, nil
	}
	f, err := fsys.OpenFile(target, os.O_RDWR, 0)
	if err != nil {
		return rep, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return rep, err
	}
	rep.Cut = size - rep.Offset
	saved, err := saveCopy(fsys, f, target, rep.Offset, size)
	if err != nil {
		return rep, fmt.Errorf("ministore: %w", err)
	}
	rep.Saved = append([]string{saved}, rep.Saved...)
	if err := f.Truncate(rep.Offset); err != nil {
		return rep, err
	}
	if err := f.Sync(); err != nil {
		return rep, err
	}
	if files[bad].num != 0 {
		// The cut segment is now the last one: it becomes the active file.
		if err := fsys.Rename(target, path); err != nil {
			return rep, err
		}
		if err := fsys.SyncDir(dir); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
