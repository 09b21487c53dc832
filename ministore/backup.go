// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/vfs"
)

// ErrBackupDestination is returned by the Backup calls when the
// destination exists and is not an empty directory. The same error value is
// returned by ministate's and miniqueue's Backup.
var ErrBackupDestination = backup.ErrDestination

// BackupInfo describes a copy of a journal written by a Backup call.
type BackupInfo struct {
	// Path is the copy's journal: its active file, in the destination.
	Path string `json:"path"`
	// First and Last are the sequence numbers of the first and the last
	// record in the copy (both 0 if it holds none). Last is the copy
	// point: every record whose Append returned before Backup was called
	// is in the copy; records appended during the call may be.
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	// Next is the sequence number the copy's next record would get:
	// Last+1, or where the numbering of an empty copy stands.
	Next uint64 `json:"next"`
	// Files and Bytes count the journal files copied and their bytes.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Live reports a copy made without the journal's lock, read beside
	// the process that holds it (see Backup); Tries is how many times it
	// read the journal (more than 1 when that process rotated or
	// truncated it during the copy).
	Live  bool `json:"live"`
	Tries int  `json:"tries"`
}

// Backup writes a consistent copy of the journal into the directory dst while
// appends go on, and returns what the copy holds. The copy holds every
// record appended before the call (Append returned), each once and in
// order, up to BackupInfo.Last: a point-in-time copy of the journal, not a
// mix of two moments. dst must not exist or must be an empty directory
// (ErrBackupDestination otherwise).
//
// Appends wait only while Backup notes the journal's files and the length
// of the active file (as long as one group commit); the files are then
// copied without the lock. Sealed segments never change; a rotation,
// TruncateFront or retention during the copy does not disturb it (it reads
// through handles opened before), and a TruncateBack during the copy makes
// it start again (at most 5 times).
//
// The copy is written into dst + ".tmp", every file checked record by
// record and fsync'd, then the directory fsync'd and renamed to dst, and dst's
// parent fsync'd: after a crash dst is missing or whole, never a partial
// copy. A dst.tmp left by a Backup cut short is removed by the next one.
// Damage in the journal fails the Backup with a *JournalError naming the
// journal's file and offset.
//
// To restore, put the copy's files in the journal's place and Open it (see
// docs/BACKUP.md).
func (s *Store[R]) Backup(dst string) (BackupInfo, error) {
	return finishBackup(s.w.fs, dst, filepath.Base(s.w.path), s.w.backupTo)
}

// BackupTo is Backup into the existing directory dir, for a program that puts
// several journals (or other files) into one backup: it writes the
// journal's files into dir (which must not hold files of that name),
// fsyncs each, and leaves the fsync of dir, and the publishing of the
// whole, to the caller.
func (s *Store[R]) BackupTo(dir string) (BackupInfo, error) {
	return s.w.backupTo(dir)
}

// Backup copies the journal at path, which this process does not have
// open, into the directory dst, as Store.Backup does. If no process has the
// journal open, Backup takes its lock for the copy. If another process
// has it open, Backup copies it beside that process without the lock (a
// live copy): the sealed segments, then the active file up to its last
// record that verifies (a write in flight is not copied); if the other
// process rotates or truncates the journal during the copy, so that the
// files read do not follow each other or a file copied is no longer what
// was read (a TruncateBack rewrites in place: each file is read twice), it
// reads them again (up to 20 times). The copy point is then the last record written when the active
// file was read, which is after Backup was called: every record the other
// process had acknowledged is in the copy.
//
// Of opts, only FS and BackupProgress are used.
func Backup(path, dst string, opts *Options) (BackupInfo, error) {
	fsys := opts.forReading().FS
	return finishBackup(fsys, dst, filepath.Base(path), func(dir string) (BackupInfo, error) {
		return backupPath(fsys, path, dir, optsProgress(opts))
	})
}

// BackupTo is Backup into the existing directory dir (see Store.BackupTo).
func BackupTo(path, dir string, opts *Options) (BackupInfo, error) {
	return backupPath(opts.forReading().FS, path, dir, optsProgress(opts))
}

func optsProgress(opts *Options) *backup.Progress {
	if opts == nil {
		return nil
	}
	return backup.NewProgress(opts.BackupProgress)
}

// finishBackup runs copy into dst's temporary directory and publishes it.
func finishBackup(fsys vfs.FS, dst, name string, copy func(dir string) (BackupInfo, error)) (BackupInfo, error) {
	var info BackupInfo
	_, err := backup.Run(fsys, dst, func(tmp string) (err error) {
		info, err = copy(tmp)
		return err
	})
	if err != nil {
		return BackupInfo{}, fmt.Errorf("ministore: backup to %s: %w", dst, err)
	}
	info.Path = filepath.Join(filepath.Clean(dst), name)
	return info, nil
}

// backupSource is one file of the journal to copy: its handle, and how
// many of its bytes.
type backupSource struct {
	path string
	f    vfs.File
	size int64
}

// maxBackTries is how often Store.Backup starts again after a
// TruncateBack during its copy.
const maxBackTries = 5

// backupTo copies the open journal into dir.
func (w *wal) backupTo(dir string) (BackupInfo, error) {
	p := backup.NewProgress(w.opts.BackupProgress)
	rewind := p.Rewind()
	for try := 1; ; try++ {
		gen := w.backGen.Load()
		var srcs []backupSource
		var openErr error
		var bound uint64
		// As the leader: no batch, rotation or truncation runs while the
		// files are noted, so the list and the active file's length are
		// one moment of the journal.
		err := w.exclusive(func() error {
			bound = w.bound
			for _, seg := range w.segs {
				f, err := w.fs.OpenFile(seg.path, os.O_RDONLY, 0)
				if err != nil {
					openErr = fmt.Errorf("open %s: %w", seg.path, err)
					return nil // the Store is fine: only the backup fails
				}
				srcs = append(srcs, backupSource{path: seg.path, f: f, size: seg.size})
			}
			return nil
		})
		if err == nil {
			err = openErr
		}
		var info BackupInfo
		if err == nil && testBackupNoted != nil {
			testBackupNoted()
		}
		if err == nil {
			info, err = writeCopy(w.fs, srcs, dir, w.path, bound, false, true, p)
		}
		closeSources(srcs)
		if w.backGen.Load() == gen {
			if err != nil {
				return BackupInfo{}, err
			}
			info.Tries = try
			return info, nil
		}
		// A TruncateBack cut the active file under the copy: what was
		// copied may mix two versions of it, or the copy ran out of
		// bytes (and was removed).
		if err == nil {
			if err := removeCopied(w.fs, dir, srcs, w.path); err != nil {
				return BackupInfo{}, err
			}
		}
		rewind()
		if try == maxBackTries {
			return BackupInfo{}, errors.New("ministore: backup: the journal was truncated at the back during every try")
		}
	}
}

// testBackupNoted, if set, runs in Store.Backup between the noting of the
// files and their copy (a test's TruncateBack goes there).
var testBackupNoted func()

// maxLiveTries is how many passes in a row a live copy (and FrontSeq)
// makes when the files it read do not make one journal (see relist).
const maxLiveTries = 20

// backupPath copies the journal at path, not open in this process, into
// dir: under its lock if it is free, else live.
func backupPath(fsys vfs.FS, path, dir string, p *backup.Progress) (_ BackupInfo, err error) {
	path = filepath.Clean(path)
	if r := openSegments(fsys, path, os.O_RDONLY); r.err != nil {
		return BackupInfo{}, r.err
	} else if len(r.files) == 0 {
		return BackupInfo{}, noJournal(fsys, path)
	}
	lock, live, err := backup.LockSource(fsys, path+".lock", "ministore", path)
	if err != nil {
		return BackupInfo{}, err
	}
	defer func() {
		if uerr := lock.Release(); err == nil && uerr != nil {
			err = uerr
		}
	}()
	tries := 1
	if live {
		tries = maxLiveTries
	}
	rewind := p.Rewind()
	var info BackupInfo
	n := 0
	err = relist(tries, func(bool) (bool, error) {
		if n++; n > 1 {
			rewind() // backupOnce removed what it copied
		}
		info, err = backupOnce(fsys, path, dir, live, p)
		// A file listed deleted before it was opened: the writer cut the
		// front or rotated, which no damage does.
		return live && errors.Is(err, fs.ErrNotExist), err
	})
	if err != nil {
		return BackupInfo{}, err
	}
	info.Live, info.Tries = live, n
	return info, nil
}

// backupOnce makes one try of backupPath. Its errors that another
// process's rotation or truncation can cause match errRelist; the files
// it wrote are removed then.
func backupOnce(fsys vfs.FS, path, dir string, live bool, p *backup.Progress) (BackupInfo, error) {
	pre, err := readBound(fsys, path) // see boundAfterOpen
	if err != nil {
		return BackupInfo{}, err
	}
	r := openSegments(fsys, path, os.O_RDONLY) // lists only
	if r.err != nil {
		return BackupInfo{}, r.err
	}
	var srcs []backupSource
	defer func() { closeSources(srcs) }()
	var gone error // the last listed file found deleted
	for i, sf := range r.files {
		f, err := fsys.OpenFile(sf.path, os.O_RDONLY, 0)
		if errors.Is(err, fs.ErrNotExist) {
			gone = relistError{fmt.Errorf("ministore: open %s: %w", sf.path, err)}
			if !live || i == len(r.files)-1 {
				return BackupInfo{}, gone
			}
			// A cut deleted it, and the files before it (oldest first),
			// after it moved the bound past them: the copy starts in a
			// later file, where the bound read below points (verifyCopy
			// checks that it does).
			closeSources(srcs)
			srcs = nil
			continue
		}
		if err != nil {
			return BackupInfo{}, fmt.Errorf("ministore: open %s: %w", sf.path, err)
		}
		size, err := f.Size()
		if err != nil {
			f.Close()
			return BackupInfo{}, fmt.Errorf("ministore: %s: %w", sf.path, err)
		}
		srcs = append(srcs, backupSource{path: sf.path, f: f, size: size})
	}
	if len(r.files) == 1 && r.files[0].num == 0 {
		if err := stillAlone(fsys, path); err != nil {
			return BackupInfo{}, relistError{err} // a rotation: see alone
		}
	}
	// Read after the files are open: the bound never points below them.
	bound, err := boundAfterOpen(fsys, path, pre)
	if err == nil && gone != nil && bound == 0 {
		err = gone // no cut: the journal was emptied (see restart), or damage
	}
	if err != nil {
		return BackupInfo{}, err
	}
	return writeCopy(fsys, srcs, dir, path, bound, live, false, p)
}

// writeCopy copies srcs, the files of the journal at path, into dir (see
// copyJournal) with the journal's marks (see rustmark.go) and its front
// bound, bound. On an error it removes what it wrote.
func writeCopy(fsys vfs.FS, srcs []backupSource, dir, path string, bound uint64, live, exact bool, p *backup.Progress) (BackupInfo, error) {
	name := filepath.Base(path)
	info, err := copyJournal(fsys, srcs, dir, name, bound, live, exact, p)
	info.Path = filepath.Join(dir, name)
	if err == nil {
		err = copyRustMarks(fsys, path, dir)
	}
	if err == nil {
		err = backupBound(fsys, dir, name, bound, &info)
	}
	if err == nil {
		return info, nil
	}
	if rerr := removeCopied(fsys, dir, srcs, path); rerr != nil {
		return BackupInfo{}, fmt.Errorf("%w (and removing the partial copy: %v)", err, rerr)
	}
	return BackupInfo{}, err
}

// copyJournal copies srcs, the files of one journal oldest first, into
// dir under their names, and then reads the copy, the journal named name in
// dir, through a segment reader: every record verified, each file
// continuing the one before. With exact set (the sizes are where the
// records end, as a Store knows them) the newest must end with a whole
// record; without, the copy of the newest file is cut after its last record
// that verifies, as Open would cut it (what follows is a torn tail, a
// write in flight, or preallocated zeros), and a newest file without a
// header, which Open would set aside, is left out. The front bound to be
// written beside the copy, bound, must fit it. With live set, anything
// that a concurrent rotation or truncation can cause matches errRelist.
// Errors name the source files.
func copyJournal(fsys vfs.FS, srcs []backupSource, dir, name string, bound uint64, live, exact bool, p *backup.Progress) (BackupInfo, error) {
	var noted int64
	for _, src := range srcs {
		noted += src.size
	}
	p.Note(noted)
	for _, src := range srcs {
		err := backup.CopyFile(fsys, filepath.Join(dir, filepath.Base(src.path)), src.f, src.size, p)
		if live && errors.Is(err, io.ErrUnexpectedEOF) {
			// The file shrank: Close trimmed its zeros, or TruncateBack.
			return BackupInfo{}, relistError{err}
		}
		if err != nil {
			return BackupInfo{}, err
		}
	}
	info, changed, err := verifyCopy(fsys, filepath.Join(dir, name), bound, exact)
	for i := 0; live && err == nil && i < len(srcs); i++ {
		err = unchanged(fsys, filepath.Join(dir, filepath.Base(srcs[i].path)), srcs[i])
	}
	if err == nil {
		return info, nil
	}
	var je *JournalError
	if errors.As(err, &je) && dirOf(je.Path) == filepath.Clean(dir) && len(srcs) > 0 {
		// The same bytes are at the same offset of the journal's file.
		c := *je
		c.Path = filepath.Join(dirOf(srcs[0].path), filepath.Base(je.Path))
		err = &c
	}
	if live && changed {
		return BackupInfo{}, relistError{err}
	}
	return BackupInfo{}, err
}

// unchanged reads src again and compares it with its copy, dst, as
// verifyCopy left it (up to its last record: appends write after it): a
// TruncateBack by the writer rewrites a file in place, and a copy read
// across it would hold records it dropped followed by records written
// after it, every one verifying. Bytes that differ match errRelist.
func unchanged(fsys vfs.FS, dst string, src backupSource) error {
	f, err := fsys.OpenFile(dst, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a newest file without a header, left out
	} else if err != nil {
		return err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return err
	}
	a, b := make([]byte, min(size, 1<<20)), make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; off += int64(len(a)) {
		n := min(int64(len(a)), size-off)
		if k, err := f.ReadAt(a[:n], off); int64(k) < n {
			return fmt.Errorf("ministore: read %s: %w", dst, err)
		}
		if k, _ := src.f.ReadAt(b[:n], off); int64(k) < n || !bytes.Equal(a[:n], b[:n]) {
			return relistError{fmt.Errorf("ministore: %s changed while it was copied", src.path)}
		}
	}
	return nil
}

// verifyCopy reads the copy of a journal at path, cuts the end of its
// newest file as copyJournal says, checks that the front bound bound fits
// it, and counts what it holds. changed reports an error that a writer
// changing the journal during the copy can cause.
func verifyCopy(fsys vfs.FS, path string, bound uint64, exact bool) (info BackupInfo, changed bool, err error) {
	r := openSegments(fsys, path, os.O_RDWR)
	defer r.close()
	for r.next(0) {
		if r.i == 0 {
			info.First = r.s.hdr.base
		}
		for r.scan() {
		}
		if r.Err() != nil {
			break
		}
		size, err := r.cur.f.Size()
		if err != nil {
			return info, false, err
		}
		if end := r.s.end; end < size {
			if exact {
				return info, false, corruptAt(r.cur.sf.path, 0, end, errors.New("ministore: the copy does not end where the journal's records end"))
			}
			if err := r.cur.f.Truncate(end); err != nil {
				return info, false, err
			}
			if err := r.cur.f.Sync(); err != nil {
				return info, false, err
			}
		}
		info.Files++
		info.Bytes += r.s.end
	}
	if err := r.Err(); err != nil {
		return info, r.changed, err
	}
	if r.headerless {
		if err := fsys.Remove(r.files[r.i].path); err != nil {
			return info, false, err
		}
	}
	info.Next = max(r.expect, 1)
	if err := checkBound(path, bound, info.First, info.Next); err != nil {
		return info, true, err // a cut ran between the opening and the bound's read
	}
	if info.Last = info.Next - 1; info.Last < info.First {
		info.First, info.Last = 0, 0
	}
	return info, false, nil
}

// removeCopied removes from dir the copies of srcs (and of the journal's
// marks, see rustmark.go, and its front bound) that exist.
func removeCopied(fsys vfs.FS, dir string, srcs []backupSource, journal string) error {
	names := append(rustMarks(journal), boundPath(journal))
	for _, src := range srcs {
		names = append(names, src.path)
	}
	for _, p := range names {
		err := fsys.Remove(filepath.Join(dir, filepath.Base(p)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func closeSources(srcs []backupSource) {
	for _, src := range srcs {
		src.f.Close()
	}
}

// FrontSeq returns the sequence number the journal at path starts at: its
// first record (the front bound, NAME.front, or else the oldest file's
// base), or, when the journal holds none, the number its next record gets.
// It reads one header and the bound, takes no lock and
// writes nothing, so it works beside a process that has the journal open
// (a file deleted between the listing and the read makes it list again).
// A bound below the oldest file, or with no file, is a *JournalError on
// NAME.front; one past the last record is not seen. Of opts, only FS is used.
func FrontSeq(path string, opts *Options) (first uint64, err error) {
	fsys := opts.forReading().FS
	err = relist(maxLiveTries, func(bool) (bool, error) {
		pre, err := readBound(fsys, path) // see boundAfterOpen
		if err != nil {
			return false, err
		}
		r := openSegments(fsys, path, os.O_RDONLY)
		if r.err == nil && len(r.files) == 0 {
			return false, noJournal(fsys, path)
		}
		base := uint64(1) // an active file without a header: Open starts at 1
		if r.next(0) {
			base = r.s.hdr.base
		}
		r.close()
		if err := r.Err(); r.changed {
			return errors.Is(err, fs.ErrNotExist), relistError{err}
		} else if err != nil {
			return false, err
		}
		bound, err := boundAfterOpen(fsys, path, pre) // never below the files
		if err == nil && r.first != 0 && bound != 0 && bound < r.first {
			err = relistError{checkBound(path, bound, r.first, bound)} // damage if it stays
		}
		first = max(base, bound)
		return false, err
	})
	return first, err
}

// noJournal is the error for the journal at path, which has no file: a
// front bound without one is damage.
func noJournal(fsys vfs.FS, path string) error {
	if bound, err := readBound(fsys, path); err != nil || bound != 0 {
		return cmp.Or(err, checkBound(path, bound, 0, 0))
	}
	return fmt.Errorf("ministore: no journal at %s: %w", path, fs.ErrNotExist)
}
