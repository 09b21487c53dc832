// Command quickstart shows the mini packages at work in a temporary folder:
// it writes a journal, reopens it, and prints what it holds.
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
