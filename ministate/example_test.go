// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

// Account is a state: balances by owner.
type Account struct {
	Balances map[string]int `json:"balances"`
}

// Deposit is a mutation of Account.
type Deposit struct {
	Owner  string `json:"owner"`
	Amount int    `json:"amount"`
}

func (d Deposit) Apply(a *Account) {
	if a.Balances == nil {
		a.Balances = map[string]int{}
	}
	a.Balances[d.Owner] += d.Amount
}

func Example() {
	dir, _ := os.MkdirTemp("", "ministate")
	defer os.RemoveAll(dir)

	// First run: the state is the zero value.
	m, err := ministate.Open[Counter, Inc](dir, "counter.wal.jsonl", nil)
	if err != nil {
		log.Fatal(err)
	}
	m.Apply(Inc{By: 100})
	seq, err := m.Apply(Inc{By: 200}) // durable when it returns
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied record", seq)
	m.Close()

	// Later runs recover it.
	m, err = ministate.Open[Counter, Inc](dir, "counter.wal.jsonl", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	m.View(func(c *Counter) { fmt.Println("value:", c.Value) })
	fmt.Println("sequence:", m.Sequence())
	// Output:
	// applied record 2
	// value: 300
	// sequence: 2
}

// Withdraw is a mutation that refuses to overdraw.
type Withdraw struct {
	Owner  string `json:"owner"`
	Amount int    `json:"amount"`
}

func (w Withdraw) Apply(a *Account) { a.Balances[w.Owner] -= w.Amount }

func (w Withdraw) Validate(a *Account) error {
	if a.Balances[w.Owner] < w.Amount {
		return fmt.Errorf("%s has %d, cannot withdraw %d", w.Owner, a.Balances[w.Owner], w.Amount)
	}
	return nil
}

// Several mutation kinds in one journal, each written as {"Kind":{...}}.
func Example_registry() {
	dir, _ := os.MkdirTemp("", "ministate")
	defer os.RemoveAll(dir)

	reg := ministate.NewRegistry[Account]()
	ministate.Register[Deposit](reg, "Deposit")
	ministate.Register[Withdraw](reg, "Withdraw")
	opts := &ministate.Options{Registry: reg}

	m, err := ministate.Open[Account, ministate.Mutator[Account]](dir, "bank.log", opts)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	m.Apply(Deposit{Owner: "ada", Amount: 50})
	m.Apply(Withdraw{Owner: "ada", Amount: 20})
	_, err = m.Apply(Withdraw{Owner: "ada", Amount: 100})
	fmt.Println(errors.Is(err, ministate.ErrRefused), err)
	m.View(func(a *Account) { fmt.Println("ada:", a.Balances["ada"], "at record", m.Sequence()) })

	// The journal, read with ministore: one record per mutation.
	for rec, err := range ministore.Records[json.RawMessage](m.JournalPath(), 1) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("#%d %s\n", rec.Seq, rec.Value)
	}
	// Output:
	// true ministate: mutation refused: ada has 30, cannot withdraw 100
	// ada: 30 at record 2
	// #1 {"Deposit":{"owner":"ada","amount":50}}
	// #2 {"Withdraw":{"owner":"ada","amount":20}}
}

// A batch is one record: after a crash, all of it or none.
func ExampleManager_ApplyBatch() {
	dir, _ := os.MkdirTemp("", "ministate")
	defer os.RemoveAll(dir)
	m, err := ministate.Open[Account, Deposit](dir, "bank.log", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	seq, err := m.ApplyBatch(
		Deposit{Owner: "ada", Amount: -10},
		Deposit{Owner: "bob", Amount: 10},
	)
	if err != nil {
		log.Fatal(err)
	}
	m.View(func(a *Account) { fmt.Println(seq, a.Balances["ada"], a.Balances["bob"]) })
	// Output:
	// 1 -10 10
}

// Copy returns a deep copy; View reads in place.
func ExampleManager_Copy() {
	dir, _ := os.MkdirTemp("", "ministate")
	defer os.RemoveAll(dir)
	m, err := ministate.Open[Account, Deposit](dir, "bank.log", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	m.Apply(Deposit{Owner: "ada", Amount: 5})

	c, err := m.Copy()
	if err != nil {
		log.Fatal(err)
	}
	c.Balances["ada"] = 1_000_000 // the copy shares no map with the state
	m.View(func(a *Account) { fmt.Println("state:", a.Balances["ada"], "copy:", c.Balances["ada"]) })
	// Output:
	// state: 5 copy: 1000000
}

// Compact writes a snapshot, then drops the journal records it covers;
// recovery loads the snapshot and replays the rest.
func ExampleManager_Compact() {
	dir, _ := os.MkdirTemp("", "ministate")
	defer os.RemoveAll(dir)
	m, err := ministate.Open[Counter, Inc](dir, "counter.log", nil)
	if err != nil {
		log.Fatal(err)
	}
	for range 5 {
		m.Apply(Inc{By: 1})
	}
	seq, err := m.Compact()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("snapshot at", seq)
	m.Apply(Inc{By: 10})
	m.Close()

	names, _ := os.ReadDir(dir)
	for _, e := range names {
		if e.IsDir() {
			fmt.Println(e.Name() + "/")
		}
	}
	m, err = ministate.Open[Counter, Inc](dir, "counter.log", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	snap, _ := m.SnapshotSeq()
	m.View(func(c *Counter) { fmt.Println("value", c.Value, "at", m.Sequence(), "from snapshot", snap) })
	// Output:
	// snapshot at 5
	// snap-00000000000000000005/
	// value 15 at 6 from snapshot 5
}

// With a snapshot policy, Apply itself snapshots and compacts.
func ExampleOptions_snapshotEvery() {
	dir, _ := os.MkdirTemp("", "ministate")
	defer os.RemoveAll(dir)
	m, err := ministate.Open[Counter, Inc](dir, "counter.log", &ministate.Options{SnapshotEvery: 100})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	for range 250 {
		if _, err := m.Apply(Inc{By: 2}); err != nil {
			log.Fatal(err)
		}
	}
	seq, _ := m.SnapshotSeq()
	entries, _ := filepath.Glob(filepath.Join(dir, "snap-*"))
	fmt.Println("newest snapshot:", seq, "snapshots kept:", len(entries))
	// Output:
	// newest snapshot: 200 snapshots kept: 2
}

// A state that implements Cloner is copied with Clone, for Copy and to
// capture snapshots.
func ExampleCloner() {
	dir, _ := os.MkdirTemp("", "ministate")
	defer os.RemoveAll(dir)
	m, err := ministate.Open[ClonedTape, PushC](dir, "tape.log", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	m.Apply(PushC{1})
	c, _ := m.Copy()
	c.Items = slices.Insert(c.Items, 0, 0)
	m.View(func(s *ClonedTape) { fmt.Println(s.Items, c.Items) })
	// Output:
	// [1] [0 1]
}
