// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/mini-go/mini/ministore"
	"github.com/spf13/cobra"
)

func newLogCmd() *cobra.Command {
	c := group(&cobra.Command{
		Use:   "log",
		Short: "Read, follow, verify and repair ministore journals",
		Long: `A journal is named by the path of its active file; sealed segments
PATH.001, PATH.002, ... beside it are read too, in order. Journals written by
the Rust crate ministore are read as well.`,
	})
	c.AddCommand(newLogCat(), newLogTail(), newLogVerify(), newLogRepair(), newLogStat())
	return c
}

// needJournal checks that path names a journal: its active file or a
// sealed segment exists.
func needJournal(path string) error {
	if info, err := os.Stat(path); err == nil {
		if info.IsDir() {
			return usagef("%s is a folder, not a journal", path)
		}
		return nil
	}
	matches, _ := filepath.Glob(path + ".[0-9][0-9][0-9]*")
	if len(matches) == 0 {
		return usagef("no journal at %s", path)
	}
	return nil
}

// journalCmd is jsonCmd on the journal PATH: run gets PATH and --json.
func journalCmd(c *cobra.Command, jsonUsage string, run func(cmd *cobra.Command, path string, asJSON bool) error) *cobra.Command {
	return jsonCmd(c, jsonUsage, func(cmd *cobra.Command, path string, asJSON bool) error {
		if err := needJournal(path); err != nil {
			return err
		}
		return run(cmd, path, asJSON)
	})
}

// logLine is how cat and tail print a record.
type logLine struct {
	Seq uint64          `json:"seq"`
	Rec json.RawMessage `json:"rec"`
}

func printRecord(w io.Writer, rec ministore.Record[json.RawMessage], raw bool) error {
	if raw {
		_, err := fmt.Fprintf(w, "%s\n", rec.Value)
		return err
	}
	return writeJSON(w, logLine{rec.Seq, rec.Value})
}

func newLogCat() *cobra.Command {
	var from, to uint64
	var raw bool
	c := &cobra.Command{
		Use:   "cat PATH",
		Short: "Print records as JSON lines",
		Long: `Print the journal's records, one JSON object a line, ready for jq:
{"seq":1,"rec":{...}}. With --raw, print the bare records.`,
		Example: `  mini log cat data/events.log | jq -c 'select(.rec.kind == "paid")'
  mini log cat --from 100 --to 200 --raw data/events.log`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if err := needJournal(path); err != nil {
				return err
			}
			if to != 0 && to < from {
				return usagef("--to %d is before --from %d", to, from)
			}
			out := bufferedOut(cmd.OutOrStdout())
			defer out.Flush()
			update, finish := progress(cmd.ErrOrStderr(), "reading", false)
			defer finish()
			first, last, _ := ministore.Bounds(path)
			for rec, err := range ministore.Records[json.RawMessage](path, from) {
				if err != nil {
					out.Flush()
					return err
				}
				if to != 0 && rec.Seq > to {
					break
				}
				if err := printRecord(out, rec, raw); err != nil {
					return err
				}
				if last > first && rec.Seq%4096 == 0 {
					update(int64(rec.Seq-first), int64(last-first+1))
				}
			}
			return nil
		},
	}
	c.Flags().Uint64Var(&from, "from", 0, "first sequence number to print (0: the first record left; below it: an error)")
	c.Flags().Uint64Var(&to, "to", 0, "last sequence number to print (0: to the end)")
	c.Flags().BoolVar(&raw, "raw", false, "print the bare records, without their sequence numbers")
	c.Flags().Bool("json", true, "print JSON lines (always on; accepted for symmetry)")
	return c
}

func newLogTail() *cobra.Command {
	var lines uint64
	var follow, raw bool
	var interval time.Duration
	c := &cobra.Command{
		Use:   "tail PATH",
		Short: "Print the last records, and with -f follow new ones",
		Long: `Print the last records of the journal as JSON lines. With -f, keep
printing records as another process appends them, until interrupted.`,
		Example: `  mini log tail -f data/events.log`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if err := needJournal(path); err != nil {
				return err
			}
			_, last, err := ministore.Bounds(path)
			if err != nil {
				return err
			}
			next := uint64(0) // the first record left
			if last > lines {
				next = last - lines + 1
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			out := cmd.OutOrStdout()
			records := ministore.Records[json.RawMessage](path, next)
			if follow {
				// Every record once, in order, across rotation and
				// truncation; ends without an error on an interrupt.
				records = ministore.Follow[json.RawMessage](ctx, path, next)
			}
			for rec, err := range records {
				if err != nil {
					return err
				}
				if err := printRecord(out, rec, raw); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().Uint64VarP(&lines, "lines", "n", 10, "how many of the last records to print first")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing records as they are appended")
	c.Flags().BoolVar(&raw, "raw", false, "print the bare records")
	// Accepted for scripts that pass it: -f follows with ministore.Follow,
	// which polls every ministore.FollowPoll.
	c.Flags().DurationVar(&interval, "interval", ministore.FollowPoll, "ignored: -f looks for new records every 20ms")
	c.Flags().Bool("json", true, "print JSON lines (always on; accepted for symmetry)")
	return c
}

// verifyResult is what verify prints with --json.
type verifyResult struct {
	Path     string       `json:"path"`
	Sound    bool         `json:"sound"`
	Segments int          `json:"segments"`
	Records  uint64       `json:"records"`
	FirstSeq uint64       `json:"first_seq"`
	LastSeq  uint64       `json:"last_seq"`
	Problem  *problemJSON `json:"problem,omitempty"`
}

type problemJSON struct {
	Kind   string `json:"kind"` // "torn tail", "corrupt" or "version"
	Path   string `json:"path"`
	Line   int    `json:"line"`
	Offset int64  `json:"offset"`
	Error  string `json:"error"`
}

func describeProblem(p error) *problemJSON {
	if p == nil {
		return nil
	}
	pj := &problemJSON{Kind: "corrupt", Error: p.Error()}
	switch {
	case errors.Is(p, ministore.ErrTornTail):
		pj.Kind = "torn tail"
	case errors.Is(p, ministore.ErrVersion):
		pj.Kind = "version"
	}
	var je *ministore.JournalError
	if errors.As(p, &je) {
		pj.Path, pj.Line, pj.Offset = je.Path, je.Line, je.Offset
		pj.Error = strings.TrimPrefix(je.Err.Error(), "ministore: ")
	}
	return pj
}

func (p *problemJSON) String() string {
	where := p.Path
	if p.Line > 0 {
		where += fmt.Sprintf(" line %d", p.Line)
	}
	where += fmt.Sprintf(", byte offset %d", p.Offset)
	switch p.Kind {
	case "torn tail":
		return fmt.Sprintf("torn tail: %s: the last write was cut short by a crash and nothing after it was acknowledged "+
			"(opening the journal removes it, keeping a .broken copy; so does mini log repair)", where)
	case "version":
		return fmt.Sprintf("unsupported version: %s: %s", where, p.Error)
	}
	return fmt.Sprintf("corrupt: %s: %s (damage, not a crash: the journal is refused until mini log repair "+
		"cuts it here, keeping a .broken copy)", where, p.Error)
}

func newLogVerify() *cobra.Command {
	return journalCmd(&cobra.Command{
		Use:   "verify PATH",
		Short: "Check every header, checksum and sequence number",
		Long: `Read the whole journal and check every header, record checksum and
sequence number. Exit 0 when it is sound; exit 1 naming the file, line and
byte offset of the first problem, and which of two kinds it is:

  torn tail  the end of the last write, cut short by a crash: nothing in it
             was acknowledged; opening the journal removes it (keeping a
             .broken copy)
  corrupt    damage a crash cannot leave (a bad header, a complete line that
             fails its checksum, zeros inside a sector, a record that a
             later one proves was durable): every reader refuses the
             journal until mini log repair cuts it there

The rule is in docs/FORMAT.md, "Recovery".`,
	}, "print the result as JSON", func(cmd *cobra.Command, path string, asJSON bool) error {
		update, finish := progress(cmd.ErrOrStderr(), "verifying", true)
		info, err := ministore.Inspect(path, update)
		finish()
		if err != nil {
			return err
		}
		res := verifyResult{Path: path, Sound: info.Problem == nil, Segments: len(info.Segments),
			Records: info.Records, FirstSeq: info.FirstSeq, LastSeq: info.LastSeq, Problem: describeProblem(info.Problem)}
		out := cmd.OutOrStdout()
		if asJSON {
			if err := writeJSON(out, res); err != nil {
				return err
			}
		} else if res.Sound {
			fmt.Fprintf(out, "ok: %s: %s (%d to %d) in %s\n", path, plural(res.Records, "record"), res.FirstSeq, res.LastSeq, plural(res.Segments, "file"))
		}
		if res.Problem != nil {
			return problemError{res.Problem.String()}
		}
		return nil
	})
}

func newLogRepair() *cobra.Command {
	return journalCmd(&cobra.Command{
		Use:   "repair PATH",
		Short: "Cut the journal at its first bad record, keeping a copy of what is cut",
		Long: `Truncate the journal at its first bad record (a torn tail or damage),
so that it opens and replays again. What is cut is kept: the end of the
damaged file in FILE.broken, and later segments renamed with a .broken
suffix. The journal must not be open in another process.`,
	}, "print the result as JSON", func(cmd *cobra.Command, path string, asJSON bool) error {
		rep, err := ministore.Repair(path)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON {
			return writeJSON(out, struct {
				Problem *problemJSON `json:"problem"`
				Cut     int64        `json:"cut_bytes"`
				Removed []string     `json:"removed"`
				Saved   []string     `json:"saved"`
			}{describeProblem(rep.Problem), rep.Cut, rep.Removed, rep.Saved})
		}
		if rep.Problem == nil {
			fmt.Fprintf(out, "sound: %s needs no repair\n", path)
			return nil
		}
		fmt.Fprintf(out, "found %s\n", describeProblem(rep.Problem))
		saved := rep.Saved
		if len(saved) > len(rep.Removed) { // a cut: its copy comes first
			fmt.Fprintf(out, "cut %s at byte offset %d: removed %s\nsaved what was cut in %s\n", rep.Path, rep.Offset, plural(rep.Cut, "byte"), saved[0])
			saved = saved[1:]
		}
		for i, r := range rep.Removed {
			fmt.Fprintf(out, "moved aside %s to %s\n", r, saved[i])
		}
		return nil
	})
}

func newLogStat() *cobra.Command {
	return journalCmd(&cobra.Command{
		Use:   "stat PATH",
		Short: "Show segments, records, first and last sequence numbers, bytes and format",
		Long: `Show the journal's files, their records, sequence numbers, bytes and
format, read from the headers and the newest file (ministore.Stat): quick on
a journal of any length, and beside a program that is writing it (a record
half written at the end is the end; a file rotated or cut away under the
read is read again). A sealed segment's records are counted from the
headers, not checked: mini log verify reads and checks every record.`,
	}, "print the result as JSON", func(cmd *cobra.Command, path string, asJSON bool) error {
		info, err := ministore.Stat(path, nil)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON {
			type seg struct {
				Path     string `json:"path"`
				Format   string `json:"format"`
				Version  string `json:"version"`
				FirstSeq uint64 `json:"first_seq"`
				Records  uint64 `json:"records"`
				Bytes    int64  `json:"bytes"`
			}
			segs := []seg{}
			for _, s := range info.Segments {
				segs = append(segs, seg{s.Path, s.Format.String(), s.Version, s.FirstSeq, s.Records, s.Bytes})
			}
			if err := writeJSON(out, struct {
				Path     string       `json:"path"`
				Segments []seg        `json:"segments"`
				Records  uint64       `json:"records"`
				FirstSeq uint64       `json:"first_seq"`
				LastSeq  uint64       `json:"last_seq"`
				Bytes    int64        `json:"bytes"`
				Problem  *problemJSON `json:"problem,omitempty"`
			}{path, segs, info.Records, info.FirstSeq, info.LastSeq, info.Bytes, describeProblem(info.Problem)}); err != nil {
				return err
			}
		} else {
			tw := table(out)
			fmt.Fprintln(tw, "FILE\tFORMAT\tVERSION\tFIRST SEQ\tRECORDS\tBYTES")
			for _, s := range info.Segments {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", filepath.Base(s.Path), s.Format, s.Version, s.FirstSeq, s.Records, s.Bytes)
			}
			tw.Flush()
			fmt.Fprintf(out, "%s, %s, sequence numbers %d to %d, %s\n",
				plural(len(info.Segments), "file"), plural(info.Records, "record"), info.FirstSeq, info.LastSeq, plural(info.Bytes, "byte"))
		}
		if p := describeProblem(info.Problem); p != nil {
			return problemError{p.String()}
		}
		return nil
	})
}
