// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// BackupInfo describes a copy of a queue directory written by a Backup call.
type BackupInfo struct {
	// Path is the copy's directory.
	Path string `json:"path"`
	// Messages and Consumers describe the copies of the two journals.
	// Messages.Last is the copy point of the messages: every message
	// whose Push returned before Backup was called is in the copy.
	Messages  ministore.BackupInfo `json:"messages"`
	Consumers ministore.BackupInfo `json:"consumers"`
	// Dead describes the copy of the dead-letter queue, nil if the queue
	// has none.
	Dead *BackupInfo `json:"dead,omitempty"`
	// Live reports a copy made beside the process that has the queue
	// open (see Backup); Tries counts the reads of the directory.
	Live  bool `json:"live"`
	Tries int  `json:"tries"`
}

// Backup writes a consistent copy of the queue directory, dead-letter queue
// included, into the directory dst while pushes, receives and acks go on.
// dst must not exist or must be an empty directory
// (ministore.ErrBackupDestination otherwise).
//
// The consumer journal is copied first, then the message journal, then
// the dead-letter queue the same way; checkpoints (and the cutting of the
// journals' fronts behind them) wait until the copy is done, so the
// messages copied hold every message the copied consumer state still
// needs. A queue opened from the copy:
//
//   - holds every message whose Push returned before Backup was called
//     (and perhaps some pushed during the call), and every dead letter
//     whose move was done before it;
//   - has the consumers' state as of the copy of the consumer journal:
//     an ack that returned before Backup was called stays acked; one
//     made during the call is in the copy or not (its record is durable
//     before Ack returns, and Ack may then take a checkpoint: a copy made
//     meanwhile holds it, as a crash then would); a message acked after
//     Backup returned, or received and not yet acked, is delivered again
//     (at least once, as after a crash);
//   - a message moved to the dead-letter queue during the call may be in
//     the copy's dead-letter queue and also still unresolved in the
//     queue: it is then delivered again (Open completes the move only for
//     messages whose deliveries reached MaxDeliveries or that Term named).
//
// Writers are held off only while each journal's files are noted, as in
// ministore's Store.Backup. The copy is written into dst + ".tmp",
// checked, fsync'd and renamed to dst: after a crash dst is missing or
// whole. To restore, put the copy's files in the directory's place and Open
// it (see docs/BACKUP.md).
func (q *Queue[T]) Backup(dst string) (BackupInfo, error) {
	var info BackupInfo
	tmp, err := backup.Run(q.e.fs, dst, func(tmp string) (err error) {
		info, err = q.e.backupTo(tmp, backup.NewProgress(q.e.opts.BackupProgress))
		return err
	})
	if err != nil {
		return BackupInfo{}, fmt.Errorf("miniqueue: backup to %s: %w", dst, err)
	}
	return published(info, tmp, dst), nil
}

// backupTo copies the open queue (or dead-letter queue) e into dir.
func (e *engine) backupTo(dir string, p *backup.Progress) (BackupInfo, error) {
	info, err := e.backupJournals(dir, p)
	if err != nil {
		return BackupInfo{}, err
	}
	// After the consumer journal: every dead letter whose "dead" record
	// was copied is in the dead-letter queue by now. (A dead-letter
	// queue's own dlq is nil.)
	e.dlqMu.Lock()
	dlq := e.dlq
	e.dlqMu.Unlock()
	if dlq != nil {
		ddir := filepath.Join(dir, deadDir)
		if err := e.fs.Mkdir(ddir, 0o755); err != nil {
			return BackupInfo{}, err
		}
		d, err := dlq.backupTo(ddir, p)
		if err != nil {
			return BackupInfo{}, err
		}
		info.Dead = &d
	}
	return info, nil
}

// backupJournals copies the consumer journal, then the message journal,
// with no checkpoint (and so no truncation) in between or during.
func (e *engine) backupJournals(dir string, p *backup.Progress) (BackupInfo, error) {
	e.cpRun.Lock()
	defer e.cpRun.Unlock()
	defer func() { e.sink.Fn = nil }()
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return BackupInfo{}, ErrClosed
	}
	var info BackupInfo
	var err error
	e.sink.Fn = p.Nested()
	if info.Consumers, err = e.cons.BackupTo(dir); err != nil {
		return BackupInfo{}, err
	}
	if testBackupBetween != nil {
		testBackupBetween()
	}
	e.sink.Fn = p.Nested()
	if info.Messages, err = e.msgs.BackupTo(dir); err != nil {
		return BackupInfo{}, err
	}
	info.Tries = 1
	return info, nil
}

// published rewrites the paths of info, written into tmp, to dst.
func published(info BackupInfo, tmp, dst string) BackupInfo {
	dst = filepath.Clean(dst)
	rel := func(p string) string {
		if r, err := filepath.Rel(tmp, p); err == nil {
			return filepath.Join(dst, r)
		}
		return p
	}
	info.Path = dst
	info.Messages.Path = rel(info.Messages.Path)
	info.Consumers.Path = rel(info.Consumers.Path)
	if info.Dead != nil {
		d := published(*info.Dead, filepath.Join(tmp, deadDir), filepath.Join(dst, deadDir))
		info.Dead = &d
	}
	return info
}

// maxLiveTries is how often Backup reads a live queue directory again when
// the other process cut the message journal's front between the copies
// of the two journals.
const maxLiveTries = 20

// Backup copies the queue directory dir, which this process does not have
// open, into the directory dst, as Queue.Backup does. If no process has the
// queue open, Backup takes its lock for the copy. If another process has
// it open, Backup copies it beside that process (a live copy): for the
// queue, then for its dead-letter queue, it notes where the message
// journal starts, copies the consumer journal, then the message journal
// (each as ministore.Backup copies a live journal), and starts again (up
// to 20 times) if the message journal's front moved in between: the other
// process took a checkpoint and deleted messages that the copied consumer
// state may still need. Nothing in dir is changed.
//
// Of opts, only FS and BackupProgress are used.
func Backup(dir, dst string, opts *Options) (info BackupInfo, err error) {
	fsys := vfs.FS(vfs.OS)
	var p *backup.Progress
	if opts != nil {
		if opts.FS != nil {
			fsys = opts.FS
		}
		p = backup.NewProgress(opts.BackupProgress)
	}
	dir = filepath.Clean(dir)
	if ok, err := journalExists(fsys, filepath.Join(dir, messagesFile)); err != nil {
		return BackupInfo{}, err
	} else if !ok {
		return BackupInfo{}, fmt.Errorf("miniqueue: backup: no queue in %s: %w", dir, fs.ErrNotExist)
	}
	// The lock is held for the copy, and let go before it is published:
	// a failure to let go fails the Backup before dst exists.
	lock, live, err := backup.LockSource(fsys, filepath.Join(dir, lockFile), "miniqueue", dir)
	if err != nil {
		return BackupInfo{}, err
	}
	defer lock.Release()
	tmp, err := backup.Run(fsys, dst, func(tmp string) (err error) {
		info, err = backupFolder(fsys, dir, tmp, live, false, p)
		if uerr := lock.Release(); err == nil {
			err = uerr
		}
		return err
	})
	if err != nil {
		return BackupInfo{}, fmt.Errorf("miniqueue: backup to %s: %w", dst, err)
	}
	info.Live = live
	return published(info, tmp, dst), nil
}

// testBackupBetween, if set, runs between the copies of the consumer
// journal and the message journal (a test's checkpoint goes there).
var testBackupBetween func()

// errFrontMoved marks a live copy whose message journal lost its front
// between the copies of the two journals.
var errFrontMoved = errors.New("miniqueue: the message journal was cut during the copy")

// backupFolder copies the queue (or, with dead set, dead-letter queue)
// directory dir into the existing directory tmp.
func backupFolder(fsys vfs.FS, dir, tmp string, live, dead bool, p *backup.Progress) (BackupInfo, error) {
	tries := 1
	if live {
		tries = maxLiveTries
	}
	var info BackupInfo
	rewind := p.Rewind()
	for try := 1; ; try++ {
		var err error
		info, err = backupFolderOnce(fsys, dir, tmp, p)
		if err == nil {
			info.Tries = try
			break
		}
		if !errors.Is(err, errFrontMoved) || try >= tries {
			return BackupInfo{}, err
		}
		for _, name := range []string{consumersFile, messagesFile} {
			if err := removeJournalCopy(fsys, tmp, name); err != nil {
				return BackupInfo{}, err
			}
		}
		rewind()
		time.Sleep(10 * time.Millisecond)
	}
	if dead {
		return info, nil
	}
	// The dead-letter queue's consumer journal is made before its first
	// dead letter is pushed (and its message journal before that): without
	// it, there is no dead letter yet, and none that the consumer journal
	// copied above names.
	ddir := filepath.Join(dir, deadDir)
	if ok, err := journalExists(fsys, filepath.Join(ddir, consumersFile)); err != nil {
		return BackupInfo{}, err
	} else if !ok {
		return info, nil
	}
	dtmp := filepath.Join(tmp, deadDir)
	if err := fsys.Mkdir(dtmp, 0o755); err != nil {
		return BackupInfo{}, err
	}
	d, err := backupFolder(fsys, ddir, dtmp, live, true, p)
	if err != nil {
		return BackupInfo{}, err
	}
	info.Dead = &d
	return info, nil
}

func backupFolderOnce(fsys vfs.FS, dir, tmp string, p *backup.Progress) (BackupInfo, error) {
	o := &ministore.Options{FS: fsys}
	msgs, cons := filepath.Join(dir, messagesFile), filepath.Join(dir, consumersFile)
	front, err := ministore.FrontSeq(msgs, o)
	if err != nil {
		return BackupInfo{}, err
	}
	var info BackupInfo
	o.BackupProgress = p.Nested()
	if info.Consumers, err = ministore.BackupTo(cons, tmp, o); err != nil {
		return BackupInfo{}, err
	}
	if testBackupBetween != nil {
		testBackupBetween()
	}
	o.BackupProgress = p.Nested()
	if info.Messages, err = ministore.BackupTo(msgs, tmp, o); err != nil {
		return BackupInfo{}, err
	}
	copied := info.Messages.First
	if copied == 0 {
		copied = info.Messages.Next
	}
	if copied > front {
		return BackupInfo{}, fmt.Errorf("%w: %s started at %d, its copy at %d", errFrontMoved, msgs, front, copied)
	}
	return info, nil
}

// removeJournalCopy removes the files of the journal name from dir.
func removeJournalCopy(fsys vfs.FS, dir, name string) error {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == name || len(n) > len(name)+1 && n[:len(name)+1] == name+"." {
			if err := fsys.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}
