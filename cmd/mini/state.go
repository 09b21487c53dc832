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
	c.AddCommand(newStateShow(), newStateCompact())
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
			skipped = append(skipped, fmt.Sprintf("snapshot %d: %v", i.Seq, err))
			continue
		}
		return i, st, skipped, true, nil
	}
	return info, nil, skipped, false, nil
}

func newStateShow() *cobra.Command {
	var journal string
	var asJSON bool
	c := &cobra.Command{
		Use:   "show DIR",
		Short: "Show the state as it would be recovered: newest good snapshot plus the journal's tail",
		Long: `Print, as JSON, what the program recovers when it opens the folder:
the newest snapshot that verifies (its sequence number and state) and the
journal records after it, in order, with the sequence number they bring
the state to. A journal that does not continue the snapshot (a gap) is an
error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			jpath, err := findJournal(dir, journal)
			if err != nil {
				return err
			}
			info, state, skipped, haveSnap, err := newestGoodSnapshot(dir)
			if err != nil {
				return err
			}
			type tailRec struct {
				Seq uint64          `json:"seq"`
				Rec json.RawMessage `json:"rec"`
			}
			out := struct {
				Dir         string          `json:"dir"`
				Journal     string          `json:"journal,omitempty"`
				SnapshotSeq *uint64         `json:"snapshot_seq"`
				Snapshot    string          `json:"snapshot,omitempty"`
				Skipped     []string        `json:"skipped_snapshots,omitempty"`
				State       json.RawMessage `json:"state"`
				Tail        []tailRec       `json:"tail"`
				Sequence    uint64          `json:"sequence"`
			}{Dir: dir, Journal: jpath, State: json.RawMessage("null"), Tail: []tailRec{}, Skipped: skipped}
			from := uint64(1)
			if haveSnap {
				seq := info.Seq
				out.SnapshotSeq, out.Snapshot, out.State, out.Sequence = &seq, info.Path, state, seq
				from = seq + 1
			}
			if jpath != "" {
				first, _, err := ministore.Bounds(jpath)
				if err != nil {
					return err
				}
				if first > from {
					return problemError{fmt.Sprintf("gap: the journal starts at record %d, but the state needs it from %d", first, from)}
				}
				for rec, err := range ministore.Records[json.RawMessage](jpath, from) {
					if err != nil {
						return err
					}
					out.Tail = append(out.Tail, tailRec{rec.Seq, rec.Value})
					out.Sequence = rec.Seq
				}
			}
			b, err := json.Marshal(out)
			if err != nil {
				return err
			}
			return printState(cmd.OutOrStdout(), b, asJSON)
		},
	}
	c.Flags().StringVar(&journal, "journal", "", "the journal's file name in DIR (default: the only journal there)")
	c.Flags().BoolVar(&asJSON, "json", false, "print compact JSON on one line")
	return c
}

func newStateCompact() *cobra.Command {
	var journal string
	c := &cobra.Command{
		Use:   "compact DIR",
		Short: "Drop the journal records the newest good snapshot covers",
		Long: `Drop the journal records that the newest snapshot that verifies
already covers, keeping the newest record. The folder must not be open in a
program (the journal is locked while it is). To take a new snapshot first,
call the program's Manager.Compact.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			jpath, err := findJournal(dir, journal)
			if err != nil {
				return err
			}
			if jpath == "" {
				return usagef("no journal in %s", dir)
			}
			info, _, _, haveSnap, err := newestGoodSnapshot(dir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !haveSnap {
				fmt.Fprintf(out, "nothing to compact: no snapshot in %s\n", dir)
				return nil
			}
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
				fmt.Fprintf(out, "nothing to compact: the journal holds records %d to %d, the snapshot covers up to %d\n", first, last, info.Seq)
				return nil
			}
			if err := s.TruncateFront(cut); err != nil {
				return err
			}
			fmt.Fprintf(out, "dropped records %d to %d (covered by snapshot %d); the journal holds %d to %d\n",
				first, cut-1, info.Seq, s.FirstSeq(), s.LastSeq())
			if s.Format() == ministore.FormatPlain {
				fmt.Fprintln(out, "note: the journal is in the Rust crate's format, which counts records by position; the Rust crate can no longer replay it with this snapshot")
			}
			return s.Close()
		},
	}
	c.Flags().StringVar(&journal, "journal", "", "the journal's file name in DIR (default: the only journal there)")
	return c
}
