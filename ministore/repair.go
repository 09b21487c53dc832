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
	// Path, Line and Offset locate the first bad record (or the front
	// bound, NAME.front); unless the file was moved aside whole, it now
	// ends at Offset.
	Path   string
	Line   int
	Offset int64
	// Cut is how many bytes were removed from Path, and Removed lists the
	// files that were moved aside whole.
	Cut     int64
	Removed []string
	// Saved lists the files that now hold everything that was cut:
	// Path+".broken" for the end of Path, and each removed file renamed
	// with a ".broken" suffix.
	Saved []string
}

// Repair truncates the journal at path at its first bad record and keeps a
// copy of everything it cuts (see RepairReport.Saved), so that Open and
// Replay succeed again. Later segments are moved aside whole: a log must not
// have a hole. It takes the journal's lock, so the journal must not be open.
// On a sound journal it changes nothing and returns a report with a nil
// Problem.
//
// Repair keeps the front bound (NAME.front, see TruncateFront): no record
// below it comes back. When what is left ends below the bound (the damage
// is in records the bound deleted, or the bound counts records that are
// missing), every segment is moved aside and the journal starts empty at
// the bound. A bound below the oldest segment is moved aside (the first
// record is then the oldest segment's), and so is a bound file that does
// not parse: the records below the lost bound are then read again, and a
// caller that knows its front calls TruncateFront again. When only one of
// the file's two slots is bad, a new bound file holding the other slot's
// bound (if it fits the segments left) replaces the one moved aside.
func Repair(path string) (*RepairReport, error) { return repairFS(vfs.OS, path) }

func repairFS(fsys vfs.FS, path string) (_ *RepairReport, err error) {
	lock, err := fsys.Lock(path + ".lock")
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, err
	}
	defer func() {
		if cerr := lock.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("ministore: unlock %s: %w", path, cerr)
		}
	}()
	info, files, _, err := inspect(fsys, path, nil)
	if err != nil {
		return nil, err
	}
	rep := &RepairReport{Problem: info.Problem}
	var je *JournalError
	if !errors.As(info.Problem, &je) {
		return rep, nil
	}
	rep.Path, rep.Line, rep.Offset = je.Path, je.Line, je.Offset
	// files[:keep] stay, the last of them cut at Offset if cut is set.
	keep, cut := len(files), false
	if je.Path != boundPath(path) {
		bad := slices.IndexFunc(files, func(f segmentFile) bool { return f.path == je.Path })
		if bad < 0 {
			return rep, fmt.Errorf("ministore: repair: %s is no longer there", je.Path)
		}
		keep, cut = bad, je.Offset > 0 // a bad header: the whole file goes
		if cut {
			keep++
		}
	}
	// The bound is read again: inspect reports one problem, and a damaged
	// segment hides a bound that does not fit.
	fb, berr := readBoundFile(fsys, path, 1) // under the lock
	if berr != nil && !errors.As(berr, new(*JournalError)) {
		return rep, berr
	}
	bound := fb.first
	if berr != nil {
		bound = 0
	}
	left := withHeaders(info.Segments[:keep])
	var next uint64 // after the last record left
	if n := len(left); n > 0 {
		next = left[n-1].FirstSeq + left[n-1].Records
	}
	empty := bound != 0 && (len(left) == 0 || next < bound)
	if empty {
		keep, cut = 0, false // everything left lies below the bound
	}
	// Move files aside, the newest first, so a crash leaves a prefix of
	// the log (which Repair, run again, finishes).
	for i := len(files) - 1; i >= keep; i-- {
		if err := rep.moveAside(fsys, files[i].path); err != nil {
			return rep, err
		}
	}
	if cut {
		if err := rep.cut(fsys, files[keep-1], path); err != nil {
			return rep, err
		}
	}
	switch {
	case empty:
		var format Format // FormatAuto writes FormatV1
		if n := len(info.Segments); n > 0 {
			format = info.Segments[n-1].Format
		}
		f, err := createActive(fsys, path, appendSchemaHeader(nil, format, bound, ""))
		if err != nil {
			return rep, err
		}
		return rep, f.Close()
	case berr != nil || (bound != 0 && bound < info.Segments[0].FirstSeq):
		if err := rep.moveAside(fsys, boundPath(path)); err != nil {
			return rep, err
		}
		// One bad slot: the other's bound, if it fits what is left,
		// is the journal's bound again.
		if n := len(left); berr != nil && fb.first != 0 && n > 0 && checkBound(path, fb.first, left[0].FirstSeq, next) == nil {
			return rep, replaceFile(fsys, boundPath(path), encodeBound(fb.first))
		}
	}
	return rep, nil
}

// moveAside moves path aside whole and notes it.
func (rep *RepairReport) moveAside(fsys vfs.FS, path string) error {
	saved, err := moveAside(fsys, path)
	if err != nil {
		return err
	}
	rep.Removed = append(rep.Removed, path)
	rep.Saved = append(rep.Saved, saved)
	return nil
}

// cut cuts the segment file sf at rep.Offset, keeping what it cuts, and
// makes it the active file of the journal at path if it is sealed (it is
// now the last one).
func (rep *RepairReport) cut(fsys vfs.FS, sf segmentFile, path string) error {
	f, err := fsys.OpenFile(sf.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	size, err := f.Size()
	if err == nil {
		rep.Cut = size - rep.Offset
		var saved string
		if saved, err = saveCopy(fsys, f, sf.path, rep.Offset, size); err != nil {
			err = fmt.Errorf("ministore: %w", err)
		} else {
			rep.Saved = append([]string{saved}, rep.Saved...)
		}
	}
	if err == nil {
		err = f.Truncate(rep.Offset)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || sf.num == 0 {
		return err
	}
	if err := fsys.Rename(sf.path, path); err != nil {
		return err
	}
	return fsys.SyncDir(dirOf(path))
}
