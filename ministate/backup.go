// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// BackupInfo describes a copy of a state directory written by a Backup call.
type BackupInfo struct {
	// Path is the copy's directory.
	Path string `json:"path"`
	// Seq is the copy point: opening the copy gives the state after
	// record Seq. Every mutation whose Apply returned before Backup was
	// called is in it; mutations applied during the call may be.
	Seq uint64 `json:"seq"`
	// SnapshotSeq is the sequence number of the snapshot in the copy,
	// 0 if it holds none (the journal then starts at record 1).
	SnapshotSeq uint64 `json:"snapshot_seq"`
	// Journal describes the copy of the journal.
	Journal ministore.BackupInfo `json:"journal"`
	// Live reports a copy made beside the process that has the directory
	// open (see Backup); Tries counts the reads of the directory.
	Live  bool `json:"live"`
	Tries int  `json:"tries"`
}

// Backup writes a consistent copy of the state directory into the directory dst
// while mutations go on: the newest snapshot and the journal from before
// the record after it, consistent with each other, so that Open on the
// copy (with the same journal name) gives the state as of BackupInfo.Seq.
// Every mutation whose Apply returned before Backup was called is in it.
// dst must not exist or must be an empty directory
// (ministore.ErrBackupDestination otherwise). Other files of the directory
// are not copied.
//
// Writers are held off only while the journal's files are noted, as in
// ministore's Store.Backup. Backup holds off snapshots and compactions
// (CreateSnapshot and Compact wait, automatic snapshots wait for a later
// write) while it copies, so the journal it copies still continues the
// snapshot it copied.
//
// The copy is written into dst + ".tmp", checked (the snapshot against
// its checksum, the journal record by record), fsync'd, and renamed to
// dst: after a crash dst is missing or whole. To restore, put the copy's
// files in the directory's place and Open it (see docs/BACKUP.md).
func (m *Manager[S, M]) Backup(dst string) (BackupInfo, error) {
	fsys := m.opts.FS
	tmp, err := backup.Begin(fsys, dst)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("ministate: backup to %s: %w", dst, err)
	}
	info, err := m.backupTo(tmp)
	if err == nil {
		err = backup.Finish(fsys, tmp, dst)
	}
	if err != nil {
		backup.Abort(fsys, tmp)
		return BackupInfo{}, fmt.Errorf("ministate: backup to %s: %w", dst, err)
	}
	return published(info, tmp, dst), nil
}

func (m *Manager[S, M]) backupTo(dir string) (BackupInfo, error) {
	m.snapMu.Lock()
	defer m.snapMu.Unlock()
	if m.closed {
		return BackupInfo{}, ErrClosed
	}
	p := backup.NewProgress(m.opts.BackupProgress)
	var info BackupInfo
	if seq, ok := m.SnapshotSeq(); ok {
		got, found, err := copySnapshot(m.opts.FS, m.opts.SnapshotCodec, m.dir, dir, seq, p)
		if err != nil {
			return BackupInfo{}, err
		}
		if !found || got != seq {
			return BackupInfo{}, fmt.Errorf("ministate: backup: snapshot %d is not in %s", seq, m.dir)
		}
		info.SnapshotSeq = seq
	}
	jdir, err := journalDir(m.dir, m.journal, dir, m.opts.FS)
	if err != nil {
		return BackupInfo{}, err
	}
	m.sink.Fn = p.Nested() // the journal's Store reports through it
	j, err := m.log.BackupTo(jdir)
	m.sink.Fn = nil
	if err != nil {
		return BackupInfo{}, err
	}
	info.Journal, info.Tries = j, 1
	if err := info.check(m.journal); err != nil {
		return BackupInfo{}, err
	}
	return info, nil
}

// check verifies that the journal copied continues the snapshot copied, and
// sets Seq.
func (info *BackupInfo) check(journal string) error {
	j := info.Journal
	if j.Last == 0 && info.SnapshotSeq == 0 {
		return nil // nothing yet
	}
	if j.First > info.SnapshotSeq+1 || j.Last < info.SnapshotSeq {
		return &GapError{Journal: journal, SnapshotSeq: info.SnapshotSeq, FirstSeq: j.First, LastSeq: j.Last}
	}
	info.Seq = max(j.Last, info.SnapshotSeq)
	return nil
}

// published rewrites the paths of info, written into tmp, to dst.
func published(info BackupInfo, tmp, dst string) BackupInfo {
	dst = filepath.Clean(dst)
	info.Path = dst
	if rel, err := filepath.Rel(tmp, info.Journal.Path); err == nil {
		info.Journal.Path = filepath.Join(dst, rel)
	}
	return info
}

// journalDir returns the directory of the journal's copy in dir: the journal
// may sit in a subfolder of the state directory.
func journalDir(stateDir, journal, dir string, fsys vfs.FS) (string, error) {
	rel, err := filepath.Rel(stateDir, filepath.Dir(journal))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("ministate: backup: the journal %s is outside the directory %s", journal, stateDir)
	}
	jdir := filepath.Join(dir, rel)
	if rel != "." {
		if err := vfs.MkdirAll(fsys, jdir, 0o755); err != nil {
			return "", err
		}
	}
	return jdir, nil
}

// testBackupBetween, if set, runs between the copies of the snapshot and
// of the journal in a live Backup (a test's compaction goes there).
var testBackupBetween func()

// maxLiveTries is how often Backup reads a live directory again when a
// compaction came between its copy of the snapshot and of the journal.
const maxLiveTries = 20

// Backup copies the state directory dir, with its journal in journalFile, into
// the directory dst, as Manager.Backup does, for a directory this process does
// not have open. If no process has it open, Backup takes the journal's
// lock for the copy. If another process has it open, Backup copies it
// beside that process (a live copy): the newest snapshot that verifies,
// then the journal as ministore.Backup copies a live journal; if the
// journal no longer continues the snapshot (the other process compacted it
// in between), it starts again (up to 20 times). Nothing in dir is
// changed.
//
// Of opts, only FS, SnapshotCodec (a minisnap.NumberedCodec makes it see
// the Rust crate's snapshots in its encoding) and BackupProgress are used.
func Backup(dir, journalFile, dst string, opts *Options) (info BackupInfo, err error) {
	fsys := vfs.FS(vfs.OS)
	var codec minisnap.Codec
	if opts != nil {
		if opts.FS != nil {
			fsys = opts.FS
		}
		codec = opts.SnapshotCodec
	}
	dir = filepath.Clean(dir)
	journal := filepath.Join(dir, journalFile)
	if ok, err := backup.JournalExists(fsys, journal); err != nil {
		return BackupInfo{}, err
	} else if !ok {
		return BackupInfo{}, fmt.Errorf("ministate: backup: no journal at %s: %w", journal, fs.ErrNotExist)
	}
	// The lock is held for the copy, and let go before it is published:
	// a failure to let go fails the Backup before dst exists.
	lock, live, err := backup.LockSource(fsys, journal+".lock", "ministate", journal)
	if err != nil {
		return BackupInfo{}, err
	}
	defer lock.Release()
	var p *backup.Progress
	if opts != nil {
		p = backup.NewProgress(opts.BackupProgress)
	}
	tmp, err := backup.Run(fsys, dst, func(tmp string) (err error) {
		info, err = backupFolder(fsys, codec, dir, journal, tmp, live, p)
		if uerr := lock.Release(); err == nil {
			err = uerr
		}
		return err
	})
	if err != nil {
		return BackupInfo{}, fmt.Errorf("ministate: backup to %s: %w", dst, err)
	}
	info.Live = live
	return published(info, tmp, dst), nil
}

func backupFolder(fsys vfs.FS, codec minisnap.Codec, dir, journal, tmp string, live bool, p *backup.Progress) (BackupInfo, error) {
	tries := 1
	if live {
		tries = maxLiveTries
	}
	rewind := p.Rewind()
	for try := 1; ; try++ {
		info, err := backupFolderOnce(fsys, codec, dir, journal, tmp, p)
		if err == nil {
			info.Tries = try
			return info, nil
		}
		if !errors.Is(err, ErrGap) || try >= tries {
			return BackupInfo{}, err
		}
		// Compacted between the two copies: start again.
		if err := clearDir(fsys, tmp); err != nil {
			return BackupInfo{}, err
		}
		rewind()
		time.Sleep(10 * time.Millisecond)
	}
}

func backupFolderOnce(fsys vfs.FS, codec minisnap.Codec, dir, journal, tmp string, p *backup.Progress) (BackupInfo, error) {
	var info BackupInfo
	seq, found, err := copySnapshot(fsys, codec, dir, tmp, ^uint64(0), p)
	if err != nil {
		return BackupInfo{}, err
	}
	if found {
		info.SnapshotSeq = seq
	}
	if testBackupBetween != nil {
		testBackupBetween()
	}
	jdir, err := journalDir(dir, journal, tmp, fsys)
	if err != nil {
		return BackupInfo{}, err
	}
	j, err := ministore.BackupTo(journal, jdir, &ministore.Options{FS: fsys, BackupProgress: p.Nested()})
	if err != nil {
		return BackupInfo{}, err
	}
	info.Journal = j
	return info, info.check(journal)
}

// clearDir removes everything in dir but the backup's marker.
func clearDir(fsys vfs.FS, dir string) error {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == backup.MarkerFile {
			continue
		}
		if err := backup.RemoveAll(fsys, filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// maxSnapTries bounds the reads of a snapshot that was removed (by a newer
// one) while it was copied.
const maxSnapTries = 20

// copySnapshot copies the newest snapshot in srcDir with a sequence number
// of at most maxSeq whose state verifies into dstDir, file by file, and
// checks the copy. It reports false if there is none. A snapshot removed
// while it is copied (a newer one replaced it) makes it look again.
func copySnapshot(fsys vfs.FS, codec minisnap.Codec, srcDir, dstDir string, maxSeq uint64, p *backup.Progress) (uint64, bool, error) {
	src, err := minisnap.Open(srcDir, &minisnap.Options{ReadOnly: true, Codec: codec, FS: fsys})
	if err != nil {
		return 0, false, err
	}
	defer src.Close()
	rewind := p.Rewind()
	for try := 1; ; try++ {
		seq, found, err := copySnapshotOnce(fsys, codec, src, dstDir, maxSeq, p)
		if err == nil || try >= maxSnapTries || !errors.Is(err, fs.ErrNotExist) {
			return seq, found, err
		}
		if err := clearDir(fsys, dstDir); err != nil {
			return 0, false, err
		}
		rewind()
		time.Sleep(10 * time.Millisecond)
	}
}

func copySnapshotOnce(fsys vfs.FS, codec minisnap.Codec, src *minisnap.Store, dstDir string, maxSeq uint64, p *backup.Progress) (uint64, bool, error) {
	infos, err := src.List()
	if err != nil {
		return 0, false, err
	}
	for _, info := range infos {
		if info.Seq > maxSeq || errors.Is(info.Err, minisnap.ErrCorrupt) {
			continue
		}
		if info.Err != nil {
			return 0, false, info.Err
		}
		// Verified first: a damaged snapshot is passed over, as Open
		// passes over it.
		err := src.Load(info, func(r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if errors.Is(err, minisnap.ErrCorrupt) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		if err := copySnapshotFiles(fsys, info, dstDir, p); err != nil {
			return 0, false, err
		}
		// The copy must verify: the bytes read were the ones checked.
		dst, err := minisnap.Open(dstDir, &minisnap.Options{ReadOnly: true, Codec: codec, FS: fsys})
		if err != nil {
			return 0, false, err
		}
		seq, err := dst.RestoreTo(func(r io.Reader, _ minisnap.Info) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		dst.Close()
		if err != nil {
			return 0, false, fmt.Errorf("ministate: backup: the copy of snapshot %d does not verify: %w", info.Seq, err)
		}
		if seq != info.Seq {
			return 0, false, fmt.Errorf("ministate: backup: the copy of snapshot %d reads as %d", info.Seq, seq)
		}
		return info.Seq, true, nil
	}
	return 0, false, nil
}

// copySnapshotFiles copies the files of the snapshot info into dstDir: its
// snap- directory, or the Rust crate's snapshot file(s).
func copySnapshotFiles(fsys vfs.FS, info minisnap.Info, dstDir string, p *backup.Progress) error {
	var files []string // relative to the snapshots' directory
	var root string
	switch {
	case !info.Legacy:
		snapDir := filepath.Dir(info.Path)
		root = filepath.Dir(snapDir)
		names, err := fsys.ReadDir(snapDir)
		if err != nil {
			return err
		}
		if err := fsys.Mkdir(filepath.Join(dstDir, filepath.Base(snapDir)), 0o755); err != nil {
			return err
		}
		for _, n := range names {
			files = append(files, filepath.Join(filepath.Base(snapDir), n))
		}
	case filepath.Base(info.Path) == "snapshot.json": // minisnap 0.1
		root = filepath.Dir(info.Path)
		files = []string{"snapshot.json", "snapshot.seq"}
	default: // snapshot_<seq>.json (or another NumberedCodec's) of the current Rust crate
		root = filepath.Dir(info.Path)
		files = []string{filepath.Base(info.Path)}
	}
	var srcs []vfs.File
	defer func() {
		for _, f := range srcs {
			f.Close()
		}
	}()
	var sizes []int64
	var total int64
	for _, rel := range files {
		f, err := fsys.OpenFile(filepath.Join(root, rel), os.O_RDONLY, 0)
		if err != nil {
			return err
		}
		srcs = append(srcs, f)
		size, err := f.Size()
		if err != nil {
			return err
		}
		sizes = append(sizes, size)
		total += size
	}
	p.Note(total)
	for i, rel := range files {
		if err := backup.CopyFile(fsys, filepath.Join(dstDir, rel), srcs[i], sizes[i], p); err != nil {
			return err
		}
	}
	return nil
}
