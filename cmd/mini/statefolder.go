// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministore"
	"github.com/spf13/cobra"
)

// stateStat is what state stat prints with --json.
type stateStat struct {
	Dir     string       `json:"dir"`
	Journal *journalStat `json:"journal"` // null without a journal
	// SnapshotSeq is the newest snapshot's sequence number (null if
	// none); RecordsAfter the journal records after it, which Open
	// replays.
	SnapshotSeq  *uint64        `json:"snapshot_seq"`
	RecordsAfter uint64         `json:"records_after_snapshot"`
	Snapshots    []snapshotStat `json:"snapshots"`
}

type snapshotStat struct {
	Seq    uint64    `json:"seq"`
	Path   string    `json:"path"`
	Codec  string    `json:"codec"`
	Bytes  int64     `json:"bytes"`
	Time   time.Time `json:"time"`
	Legacy bool      `json:"legacy,omitempty"`
	Error  string    `json:"error,omitempty"` // its metadata does not read
}

func newStateStat() *cobra.Command {
	return stateCmd(&cobra.Command{
		Use:   "stat DIR",
		Short: "Show the journal's files and the snapshots of a state folder",
		Long: `Show what the folder's files say: the journal's segments, records,
sequence numbers and bytes (as mini log stat), and the snapshots, newest
first, with the records the newest one does not cover (what the program
replays when it opens the folder). It reads only headers, metadata and the
journal's newest file, takes no lock and writes nothing, so it works beside
the running program. Snapshots are not verified here: mini snap verify
reads them whole.`,
	}, "print the result as JSON", func(cmd *cobra.Command, dir, jpath string, asJSON bool) error {
		res := stateStat{Dir: dir, Snapshots: []snapshotStat{}}
		var infos []minisnap.Info
		// A snapshot the program prunes while it is listed does not
		// read: list again rather than report it damaged.
		err := retryLive(func() error {
			s, is, err := listSnaps(dir)
			if err != nil {
				return err
			}
			for _, i := range is {
				if i.Err != nil && gone(s, i) {
					return errStateChanged
				}
			}
			infos = is
			return nil
		})
		if err != nil {
			return err
		}
		for _, i := range infos {
			s := snapshotStat{Seq: i.Seq, Path: i.Path, Codec: i.Codec, Bytes: i.Size, Time: i.Time, Legacy: i.Legacy}
			if i.Err != nil {
				s.Error = oneLine(i.Err.Error())
			} else if res.SnapshotSeq == nil {
				seq := i.Seq
				res.SnapshotSeq = &seq
			}
			res.Snapshots = append(res.Snapshots, s)
		}
		if jpath != "" {
			info, err := ministore.Stat(jpath, nil)
			if err != nil {
				return err
			}
			j := journalStatOf(*info)
			res.Journal = &j
			var snap uint64
			if res.SnapshotSeq != nil {
				snap = *res.SnapshotSeq
			}
			if j.LastSeq > snap {
				res.RecordsAfter = j.LastSeq - max(snap, j.FirstSeq-1)
			}
		}
		out := cmd.OutOrStdout()
		if asJSON {
			return writeJSON(out, res)
		}
		if j := res.Journal; j != nil {
			fmt.Fprintf(out, "journal %s: %s, %s (%d to %d), %s\n", filepath.Base(j.Path), plural(j.Segments, "file"),
				plural(j.Records, "record"), j.FirstSeq, j.LastSeq, plural(j.Bytes, "byte"))
		} else {
			fmt.Fprintln(out, "no journal")
		}
		if res.SnapshotSeq == nil {
			fmt.Fprintf(out, "no snapshot: the state is the journal's %s applied\n", plural(res.RecordsAfter, "record"))
		} else {
			fmt.Fprintf(out, "newest snapshot at %d, %s after it\n", *res.SnapshotSeq, plural(res.RecordsAfter, "record"))
		}
		if len(res.Snapshots) == 0 {
			return nil
		}
		tw := table(out)
		fmt.Fprintln(tw, "SEQ\tCODEC\tBYTES\tTIME\tPATH")
		for _, s := range res.Snapshots {
			p := s.Path
			if s.Error != "" {
				p += " (" + s.Error + ")"
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", s.Seq, s.Codec, s.Bytes, s.Time.UTC().Format(time.RFC3339), p)
		}
		return tw.Flush()
	})
}
