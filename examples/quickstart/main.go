// SPDX-License-Identifier: MIT OR Apache-2.0

// Command quickstart shows the mini packages at work in a temporary directory:
// it writes a journal, reopens it, and prints what it holds (ministore);
// then it keeps a state that survives restarts, with a snapshot and a
// compacted log (ministate, on ministore and minisnap).
//
//	go run ./examples/quickstart
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

// Event is one record of the journal.
type Event struct {
	Kind  string `json:"kind"`
	Order int    `json:"order"`
}

func main() {
	dir, err := os.MkdirTemp("", "mini-quickstart-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := run(os.Stdout, dir); err != nil {
		log.Fatal(err)
	}
}

// run does the tour in dir, printing to out.
func run(out io.Writer, dir string) error {
	if err := journal(out, dir); err != nil {
		return err
	}
	return state(out, dir)
}

// Stock is a state: items in stock.
type Stock struct {
	Items map[string]int `json:"items"`
}

// Receive is a mutation of Stock. Mutations are logged before they are
// applied, so they must be deterministic.
type Receive struct {
	Item  string `json:"item"`
	Count int    `json:"count"`
}

func (r Receive) Apply(s *Stock) {
	if s.Items == nil {
		s.Items = map[string]int{}
	}
	s.Items[r.Item] += r.Count
}

// state keeps a Stock with ministate: every Apply is durable when it
// returns, a snapshot plus the log's tail brings it back after a restart.
func state(out io.Writer, dir string) error {
	stateDir := filepath.Join(dir, "stock")
	m, err := ministate.Open[Stock, Receive](stateDir, "stock.wal.jsonl", nil)
	if err != nil {
		return err
	}
	for _, r := range []Receive{{"apple", 10}, {"pear", 4}, {"apple", 5}} {
		if _, err := m.Apply(r); err != nil {
			return err
		}
	}
	// Snapshot the state, then drop the log records the snapshot covers.
	if _, err := m.Compact(); err != nil {
		return err
	}
	if _, err := m.Apply(Receive{"plum", 7}); err != nil {
		return err
	}
	if err := m.Close(); err != nil {
		return err
	}

	// A restart: the newest snapshot plus the rest of the log.
	m, err = ministate.Open[Stock, Receive](stateDir, "stock.wal.jsonl", nil)
	if err != nil {
		return err
	}
	defer m.Close()
	m.View(func(s *Stock) {
		fmt.Fprintf(out, "stock after restart: apple %d, pear %d, plum %d (sequence %d)\n",
			s.Items["apple"], s.Items["pear"], s.Items["plum"], m.Sequence())
	})
	return nil
}

// journal writes, reopens and replays a ministore journal.
func journal(out io.Writer, dir string) error {
	path := filepath.Join(dir, "events.log")

	// 1. Write: each Append is on stable storage when it returns.
	store, err := ministore.Open[Event](path, nil)
	if err != nil {
		return err
	}
	for _, e := range []Event{{"created", 1}, {"paid", 1}, {"created", 2}} {
		seq, err := store.Append(e)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "appended #%d %+v\n", seq, e)
	}
	if err := store.Close(); err != nil {
		return err
	}

	// 2. Reopen, as after a restart, and continue the sequence.
	store, err = ministore.Open[Event](path, nil)
	if err != nil {
		return err
	}
	seq, err := store.Append(Event{"shipped", 1})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "after reopening: appended #%d, journal holds #%d..#%d\n", seq, store.FirstSeq(), store.LastSeq())
	if err := store.Close(); err != nil {
		return err
	}

	// 3. Replay, one record at a time.
	fmt.Fprintln(out, "replay:")
	for rec, err := range ministore.Records[Event](path, 1) {
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  #%d %s order %d\n", rec.Seq, rec.Value.Kind, rec.Value.Order)
	}

	// 4. The file itself is JSON lines: cat and jq work on it.
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "the file:")
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		fmt.Fprintln(out, "  "+line)
	}
	return nil
}
