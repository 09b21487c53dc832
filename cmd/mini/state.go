// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministore"
	"github.com/spf13/cobra"
)

func newStateCmd() *cobra.Command {
	c := group(&cobra.Command{
		Use:   "state",
		Short: "Show and compact ministate state folders",
		Long: `A ministate folder holds a journal (ministore) and snapshots
(minisnap). mini reads them without the program's Go types: it shows the
newest snapshot that verifies and the journal records after it, which is
what the program replays when it opens the folder.`,
	})
	c.AddCommand(newStateShow(), newStateStat(), newStateCompact())
	return c
}

var segmentSuffix = regexp.MustCompile(`\.[0-9]{3,}$`)

// findJournal returns the journal in dir: name if given, else the one file
// that starts with a journal header (not counting sealed segments).
func findJournal(dir, name string) (string, error) {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return "", usagef("no folder at %s", dir)
	}
	if name != "" {
		p := filepath.Join(dir, name)
		if err := needJournal(p); err != nil {
			return "", err
		}
		return p, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var found []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || segmentSuffix.MatchString(n) || strings.HasSuffix(n, ".lock") ||
			strings.HasSuffix(n, ".tmp") || strings.Contains(n, ".broken") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		line, _ := bufio.NewReader(f).ReadString('\n')
		f.Close()
		if strings.HasPrefix(line, "// MINISTORE JOURNAL v") {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return filepath.Join(dir, found[0]), nil
	}
	return "", usagef("%s holds several journals (%s): name one with --journal", dir, strings.Join(found, ", "))
}

// newestGoodSnapshot returns the newest snapshot that verifies, with its
// state as JSON, or ok false if there is none; skipped lists damaged ones.
func newestGoodSnapshot(dir string) (info minisnap.Info, state json.RawMessage, skipped []string, ok bool, err error) {
	s, infos, err := listSnaps(dir)
	if err != nil {
		return info, nil, nil, false, err
	}
	for _, i := range infos {
		st, err := loadJSON(s, i)
		if err != nil {
			if gone(s, i) {
				// The program pruned it while mini read it: not damage.
				return info, nil, nil, false, errStateChanged
			}
			skipped = append(skipped, fmt.Sprintf("snapshot %d: %v", i.Seq, err))
			continue
		}
		return i, st, skipped, true, nil
	}
	return info, nil, skipped, false, nil
}

// gone reports whether snapshot i is no longer listed.
func gone(s *minisnap.Store, i minisnap.Info) bool {
	infos, err := s.List()
	if err != nil {
		return false
	}
	for _, j := range infos {
		if j.Path == i.Path {
			return false
		}
	}
	return true
}

// errStateChanged means a program changed the state directory while mini read
// it (a new snapshot, a compaction): reading again gives a consistent view.
var errStateChanged = errors.New("the folder changed while mini read it")

// liveTries is how many times state show reads a directory that a running
// program keeps changing under it.
const liveTries = 5

// retryLive runs read until it does not fail with errStateChanged (or
// ministore.ErrTruncated: a compaction cut the journal under it), at most
// liveTries times.
func retryLive(read func() error) error {
	var err error
	for try := range liveTries {
		if try > 0 {
			time.Sleep(time.Duration(try) * 20 * time.Millisecond)
		}
		if err = read(); !errors.Is(err, errStateChanged) && !errors.Is(err, ministore.ErrTruncated) {
			return err
		}
	}
	return err
}

// stateCmd is jsonCmd on a state folder DIR with the flag --journal: run
// gets DIR, the path of its journal ("" if it holds none) and --json.
func stateCmd(c *cobra.Command, jsonUsage string, run func(cmd *cobra.Command, dir, jpath string, asJSON bool) error) *cobra.Command {
	var journal string
	c.Flags().StringVar(&journal, "journal", "", "the journal's file name in DIR (default: the only journal there)")
	return jsonCmd(c, jsonUsage, func(cmd *cobra.Command, dir string, asJSON bool) error {
		jpath, err := findJournal(dir, journal)
		if err != nil {
			return err
		}
		return run(cmd, dir, jpath, asJSON)
	})
}

func newStateShow() *cobra.Command {
	return stateCmd(&cobra.Command{
		Use:   "show DIR",
		Short: "Show what the state is recovered from: newest good snapshot plus the journal's tail",
		Long: `Print, as JSON, what the program recovers its state from when it opens
the folder: the newest snapshot that verifies (its sequence number, as
snapshot_seq, and its state, as snapshot_state) and the journal records after
it (tail), in order, with the sequence number they bring the state to.

mini cannot compute the current state itself: a record is a mutation whose
Apply method is Go code in the program, so the tail is printed as it is,
not applied (state_applied is false, and note says so). Without a snapshot,
snapshot_state is null and the state is the program's zero value with every
tail record applied. A journal that does not continue the snapshot (a gap)
is an error.`,
	}, "print compact JSON on one line", func(cmd *cobra.Command, dir, jpath string, asJSON bool) error {
		type tailRec struct {
			Seq uint64          `json:"seq"`
			Rec json.RawMessage `json:"rec"`
		}
		type shown struct {
			Dir           string          `json:"dir"`
			Journal       string          `json:"journal,omitempty"`
			SnapshotSeq   *uint64         `json:"snapshot_seq"`
			Snapshot      string          `json:"snapshot,omitempty"`
			Skipped       []string        `json:"skipped_snapshots,omitempty"`
			SnapshotState json.RawMessage `json:"snapshot_state"`
			StateApplied  bool            `json:"state_applied"`
			Tail          []tailRec       `json:"tail"`
			Sequence      uint64          `json:"sequence"`
			Note          string          `json:"note"`
		}
		var out shown
		var haveSnap bool
		// The directory may belong to a running program: a snapshot
		// published, or the journal compacted, between the reads is
		// read again (retryLive); a record half written at the end
		// of the journal is its end.
		err := retryLive(func() error {
			info, state, skipped, ok, err := newestGoodSnapshot(dir)
			if err != nil {
				return err
			}
			haveSnap = ok
			out = shown{Dir: dir, Journal: jpath, SnapshotState: json.RawMessage("null"), Tail: []tailRec{}, Skipped: skipped}
			from := uint64(1)
			if haveSnap {
				seq := info.Seq
				out.SnapshotSeq, out.Snapshot, out.SnapshotState, out.Sequence = &seq, info.Path, state, seq
				from = seq + 1
			}
			if jpath == "" {
				return nil
			}
			for rec, err := range ministore.Records[json.RawMessage](jpath, from) {
				if err != nil {
					var te *ministore.TruncatedError
					if errors.As(err, &te) && !haveSnap {
						// Perhaps a snapshot was published and the
						// journal compacted since the listing.
						if _, _, _, ok, _ := newestGoodSnapshot(dir); ok {
							return errStateChanged
						}
						return problemError{fmt.Sprintf("gap: the journal starts at record %d, but the state needs it from %d", te.First, from)}
					}
					return err
				}
				out.Tail = append(out.Tail, tailRec{rec.Seq, rec.Value})
				out.Sequence = rec.Seq
			}
			return nil
		})
		var te *ministore.TruncatedError
		if errors.As(err, &te) {
			return problemError{fmt.Sprintf("gap: the journal starts at record %d, but the state needs it from %d", te.First, te.From)}
		}
		if err != nil {
			return err
		}
		switch {
		case !haveSnap && len(out.Tail) == 0:
			out.Note = "no snapshot and no journal records: the state is the program's zero value"
		case !haveSnap:
			out.Note = "no snapshot: the state is the program's zero value with the " + plural(len(out.Tail), "tail record") + " applied by the program's Apply; mini cannot apply them without the program's Go types"
		case len(out.Tail) == 0:
			out.Note = "the state is snapshot_state: no journal records follow the snapshot"
		default:
			out.Note = "the state is snapshot_state with the " + plural(len(out.Tail), "tail record") + " applied by the program's Apply; mini cannot apply them without the program's Go types"
		}
		out.StateApplied = len(out.Tail) == 0
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return printState(cmd.OutOrStdout(), b, asJSON)
	})
}

// compactResult is what state compact prints with --json. Dropped is
// false when there was nothing to drop; then DroppedFrom and DroppedTo are 0.
type compactResult struct {
	Dir         string  `json:"dir"`
	Journal     string  `json:"journal"`
	SnapshotSeq *uint64 `json:"snapshot_seq"`
	Dropped     bool    `json:"dropped"`
	DroppedFrom uint64  `json:"dropped_from"`
	DroppedTo   uint64  `json:"dropped_to"`
	FirstSeq    uint64  `json:"first_seq"`
	LastSeq     uint64  `json:"last_seq"`
	Note        string  `json:"note,omitempty"`
}

const rustCompactNote = "the journal is in the Rust crate's format, which counts records by position; the Rust crate can no longer replay it with this snapshot, and refuses it (NAME.000 marks it)"

func newStateCompact() *cobra.Command {
	return stateCmd(&cobra.Command{
		Use:   "compact DIR",
		Short: "Drop the journal records the newest good snapshot covers",
		Long: `Drop the journal records that the newest snapshot that verifies
already covers, keeping the newest record. The folder must not be open in a
program (the journal is locked while it is). To take a new snapshot first,
call the program's Manager.Compact.`,
	}, "print the result as JSON", func(cmd *cobra.Command, dir, jpath string, asJSON bool) error {
		if jpath == "" {
			return usagef("no journal in %s", dir)
		}
		info, _, _, haveSnap, err := newestGoodSnapshot(dir)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		res := compactResult{Dir: dir, Journal: jpath}
		if !haveSnap {
			if asJSON {
				first, last, err := ministore.Bounds(jpath)
				if err != nil {
					return err
				}
				res.FirstSeq, res.LastSeq, res.Note = first, last, "nothing to compact: no snapshot"
				return writeJSON(out, res)
			}
			fmt.Fprintf(out, "nothing to compact: no snapshot in %s\n", dir)
			return nil
		}
		seq := info.Seq
		res.SnapshotSeq = &seq
		s, err := ministore.Open[json.RawMessage](jpath, &ministore.Options{Schema: ministore.AnySchema})
		if errors.Is(err, ministore.ErrLocked) {
			return fmt.Errorf("%s is open in another process; compact from the program (Manager.Compact)", jpath)
		}
		if err != nil {
			return err
		}
		defer s.Close()
		first, last := s.FirstSeq(), s.LastSeq()
		cut := min(info.Seq+1, last)
		if first == 0 || cut <= first {
			res.FirstSeq, res.LastSeq, res.Note = first, last, "nothing to compact"
			if err := printResult(out, asJSON, res, "nothing to compact: the journal holds records %d to %d, the snapshot covers up to %d\n", first, last, info.Seq); err != nil {
				return err
			}
			return s.Close()
		}
		if err := s.TruncateFront(cut); err != nil {
			return err
		}
		res.Dropped, res.DroppedFrom, res.DroppedTo = true, first, cut-1
		res.FirstSeq, res.LastSeq = s.FirstSeq(), s.LastSeq()
		if s.Format() == ministore.FormatPlain {
			res.Note = rustCompactNote
		}
		if err := s.Close(); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(out, res)
		}
		fmt.Fprintf(out, "dropped records %d to %d (covered by snapshot %d); the journal holds %d to %d\n",
			first, cut-1, info.Seq, res.FirstSeq, res.LastSeq)
		if res.Note != "" {
			fmt.Fprintln(out, "note: "+res.Note)
		}
		return nil
	})
}
