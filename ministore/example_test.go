// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mini-go/mini/ministore"
)

// CounterMutation is a record: like the Rust crate's enum, one field is set.
type CounterMutation struct {
	Set *int `json:",omitempty"`
	Inc *int `json:",omitempty"`
}

func ptr(v int) *int { return &v }

func Example() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "counter.log")

	store, err := ministore.Open[CounterMutation](path, nil)
	if err != nil {
		log.Fatal(err)
	}
	store.Append(CounterMutation{Set: ptr(100)})
	seq, err := store.Append(CounterMutation{Inc: ptr(25)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("last sequence number:", seq)
	store.Close()

	// Rebuild the state from the log.
	records, err := ministore.Replay[CounterMutation](path)
	if err != nil {
		log.Fatal(err)
	}
	counter := 0
	for _, m := range records {
		switch {
		case m.Set != nil:
			counter = *m.Set
		case m.Inc != nil:
			counter += *m.Inc
		}
	}
	fmt.Println("counter:", counter)
	// Output:
	// last sequence number: 2
	// counter: 125
}

func ExampleRecords() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.log")

	store, _ := ministore.Open[string](path, nil)
	for _, e := range []string{"created", "paid", "shipped", "delivered"} {
		store.Append(e)
	}
	store.Close()

	// Stream from sequence number 3 on, one record at a time.
	for rec, err := range ministore.Records[string](path, 3) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Seq, rec.Value)
	}
	// Output:
	// 3 shipped
	// 4 delivered
}

func ExampleStore_TruncateFront() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	store, _ := ministore.Open[int](filepath.Join(dir, "n.log"), nil)
	defer store.Close()
	for i := 1; i <= 10; i++ {
		store.Append(i * i)
	}
	// A snapshot covers records up to 7: drop them.
	store.TruncateFront(8)
	v, _ := store.Get(9)
	fmt.Println(store.FirstSeq(), store.LastSeq(), v)
	// Output:
	// 8 10 81
}

func ExampleStore_Append_concurrent() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	store, _ := ministore.Open[int](filepath.Join(dir, "n.log"), nil)
	defer store.Close()
	done := make(chan uint64)
	for i := range 8 {
		go func() {
			seq, err := store.Append(i) // durable when it returns; fsyncs are shared
			if err != nil {
				log.Fatal(err)
			}
			done <- seq
		}()
	}
	sum := uint64(0)
	for range 8 {
		sum += <-done
	}
	fmt.Println(store.LastSeq(), sum)
	// Output:
	// 8 36
}

// A journal records what it holds: opened under another schema it is
// refused before anything changes, and records of another type do not
// decode into zero values.
func ExampleOptions_schema() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "counter.log")

	store, err := ministore.Open[CounterMutation](path, &ministore.Options{Schema: "counter/v1"})
	if err != nil {
		log.Fatal(err)
	}
	store.Append(CounterMutation{Set: ptr(7)})
	store.Close()

	type Shipment struct{ Parcel string }
	_, err = ministore.Open[Shipment](path, &ministore.Options{Schema: "shipments/v1"})
	fmt.Println(errors.Is(err, ministore.ErrSchema))
	for _, err := range ministore.Records[Shipment](path, 1) {
		var de *ministore.DecodeError
		fmt.Println(errors.As(err, &de), de.Seq, de.Err)
		break
	}
	// Output:
	// true
	// true 1 json: unknown field "Set"
}

// Stats counts what the Store did; Sub gives what it did between two calls.
func ExampleStore_Stats() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	store, err := ministore.Open[CounterMutation](filepath.Join(dir, "counter.log"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	before := store.Stats()
	store.Append(CounterMutation{Set: ptr(1)})
	store.AppendBatch(CounterMutation{Inc: ptr(2)}, CounterMutation{Inc: ptr(3)})
	d := store.Stats().Sub(before)
	fmt.Println("records:", d.Appends, "group commits:", d.Batches, "fsyncs:", d.Fsyncs)
	fmt.Println("records per group commit:", d.RecordsPerBatch())
	fmt.Println("fsync latencies counted:", d.FsyncLatency.Count)
	// Output:
	// records: 3 group commits: 2 fsyncs: 2
	// records per group commit: 1.5
	// fsync latencies counted: 2
}

func ExampleFollow() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.log")
	store, _ := ministore.Open[string](path, nil)
	defer store.Close()
	store.Append("created")
	store.Append("paid")

	// Follow yields the records written so far, then waits for new ones
	// (here appended by the loop itself; usually by another goroutine or
	// process) until ctx is done.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for rec, err := range ministore.Follow[string](ctx, path, 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Seq, rec.Value)
		switch rec.Value {
		case "paid":
			store.Append("shipped")
		case "shipped":
			cancel() // the loop ends without an error
		}
	}

	// Records before the first one left are an error, not skipped.
	store.TruncateFront(3)
	for _, err := range ministore.Records[string](path, 1) {
		var te *ministore.TruncatedError
		if errors.As(err, &te) {
			fmt.Println("truncated: first left is", te.First)
		}
	}
	// Output:
	// 1 created
	// 2 paid
	// 3 shipped
	// truncated: first left is 3
}

// Stat describes a journal that a Store (here in this process; usually
// another) has open and is writing.
func ExampleStat() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.log")
	s, err := ministore.Open[string](path, &ministore.Options{MaxSegmentBytes: 200})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for range 10 {
		if _, err := s.Append("an event of some length"); err != nil {
			log.Fatal(err)
		}
	}
	info, err := ministore.Stat(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(info.Segments), "files,", info.Records, "records,", info.FirstSeq, "to", info.LastSeq)
	// Output: 4 files, 10 records, 1 to 10
}

// A backup taken while the journal is open, then restored by opening the
// copy.
func ExampleStore_Backup() {
	dir, _ := os.MkdirTemp("", "ministore")
	defer os.RemoveAll(dir)
	store, err := ministore.Open[string](filepath.Join(dir, "events.log"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	for _, e := range []string{"created", "paid", "shipped"} {
		if _, err := store.Append(e); err != nil {
			log.Fatal(err)
		}
	}

	info, err := store.Backup(filepath.Join(dir, "backup"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("copied records %d to %d in %d file\n", info.First, info.Last, info.Files)

	// Restore: open the copy (here in place) as the journal.
	restored, err := ministore.Open[string](info.Path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer restored.Close()
	for rec, err := range restored.All(0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Seq, rec.Value)
	}
	// Output:
	// copied records 1 to 3 in 1 file
	// 1 created
	// 2 paid
	// 3 shipped
}
