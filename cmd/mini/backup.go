// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-go/mini/miniqueue"
	"github.com/mini-go/mini/minisnap/msgpacksnap"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

// backupOut is what mini backup prints with --json.
type backupOut struct {
	Kind   string `json:"kind"` // log, state or queue
	Source string `json:"source"`
	Path   string `json:"path"` // the copy
	// CopyPoint is the copy point: the journal's last record (log), the
	// state's sequence number (state), the last message (queue).
	CopyPoint uint64                `json:"copy_point"`
	Files     int                   `json:"files"`
	Bytes     int64                 `json:"bytes"`
	Live      bool                  `json:"live"`
	Tries     int                   `json:"tries"`
	Seconds   float64               `json:"seconds"`
	Log       *ministore.BackupInfo `json:"log,omitempty"`
	State     *ministate.BackupInfo `json:"state,omitempty"`
	Queue     *miniqueue.BackupInfo `json:"queue,omitempty"`
}

func newBackupCmd() *cobra.Command {
	var asJSON bool
	var journal string
	cmd := &cobra.Command{
		Use:   "backup SRC DST",
		Short: "Copy a journal, state folder or queue, consistently, even while a program has it open",
		Long: `backup writes a consistent copy of SRC into the new folder DST: a journal
(SRC names its active file), a ministate folder (its newest snapshot and the
journal that continues it; --journal names the journal if the folder holds
several) or a miniqueue folder (both journals and the dead-letter queue).

If no program has SRC open, backup takes its lock for the copy. If one has,
backup copies beside it without the lock: sealed segments, then the active
file up to its last record that verifies, reading again if the program
rotates or compacts the files meanwhile. The copy holds every record the
program had acknowledged when backup started.

The copy is written into DST.tmp, checked record by record, fsync'd, and
renamed to DST: DST exists only when the copy is whole. DST must not exist
or must be an empty folder. To restore, stop the program, put the copy's
files in SRC's place, and start it (see docs/BACKUP.md).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := filepath.Clean(args[0]), filepath.Clean(args[1])
			kind, err := backupKind(src, journal)
			if err != nil {
				return err
			}
			update, finish := progress(cmd.ErrOrStderr(), "copying", true)
			start := time.Now()
			out, err := runBackup(kind, src, dst, journal, update)
			finish()
			if errors.Is(err, ministore.ErrBackupDestination) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			out.Seconds = time.Since(start).Seconds()
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, out)
			}
			how := "with the lock (no program had it open)"
			if out.Live {
				how = "live, beside the program that has it open"
			}
			_, err = fmt.Fprintf(w, "backed up %s %s to %s: copy point %d, %s, %s, %s\n",
				kind, src, dst, out.CopyPoint, plural(out.Files, "file"), plural(out.Bytes, "byte"), how)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&journal, "journal", "", "the journal's file name in a state folder that holds several")
	return cmd
}

// backupKind tells what src is: a journal (log), a queue or a state directory.
func backupKind(src, journal string) (string, error) {
	info, err := os.Stat(src)
	if err != nil || !info.IsDir() {
		if err := needJournal(src); err != nil {
			return "", err
		}
		return "log", nil
	}
	for _, name := range []string{"queue.lock", "messages.log"} {
		if _, err := os.Stat(filepath.Join(src, name)); err == nil {
			return "queue", nil
		}
	}
	j, err := findJournal(src, journal)
	if err != nil {
		return "", err
	}
	if j == "" {
		return "", usagef("%s holds no journal: not a journal, state folder or queue", src)
	}
	return "state", nil
}

// runBackup copies src to dst, reporting to progress (the library's
// BackupProgress: bytes copied out of the bytes noted so far).
func runBackup(kind, src, dst, journal string, progress func(done, total int64)) (backupOut, error) {
	out := backupOut{Kind: kind, Source: src, Path: dst}
	switch kind {
	case "log":
		info, err := ministore.Backup(src, dst, &ministore.Options{BackupProgress: progress})
		if err != nil {
			return out, err
		}
		out.Log, out.CopyPoint, out.Files, out.Bytes, out.Live, out.Tries = &info, info.Last, info.Files, info.Bytes, info.Live, info.Tries
	case "state":
		j, err := findJournal(src, journal)
		if err != nil {
			return out, err
		}
		info, err := ministate.Backup(src, filepath.Base(j), dst, &ministate.Options{BackupProgress: progress, SnapshotCodec: msgpacksnap.New()})
		if err != nil {
			return out, err
		}
		out.State, out.CopyPoint, out.Live, out.Tries = &info, info.Seq, info.Live, info.Tries
		out.Files, out.Bytes = treeSize(dst)
	case "queue":
		info, err := miniqueue.Backup(src, dst, &miniqueue.Options{BackupProgress: progress})
		if err != nil {
			return out, err
		}
		out.Queue, out.CopyPoint, out.Live, out.Tries = &info, info.Messages.Last, info.Live, info.Tries
		out.Files, out.Bytes = treeSize(dst)
	}
	return out, nil
}

// treeSize counts the files under dir and their bytes.
func treeSize(dir string) (files int, bytes int64) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				files++
				bytes += info.Size()
			}
		}
		return nil
	})
	return files, bytes
}
