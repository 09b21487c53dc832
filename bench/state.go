// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

// The state workload: 1,000 accounts; each mutation deposits an amount
// into one of them. ministate logs the mutation and applies it in memory;
// bbolt and pebble read the account, change it and write it back, in one
// durable transaction or write.

type Account struct {
	Balance int64  `json:"balance"`
	Ops     int64  `json:"ops"`
	Last    string `json:"last"`
}

type Bank struct {
	Accounts map[string]Account `json:"accounts"`
}

// Deposit is the mutation; its JSON is about 100 bytes.
type Deposit struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"`
	Ref     string `json:"ref"`
}

func (d Deposit) Apply(b *Bank) {
	if b.Accounts == nil {
		b.Accounts = map[string]Account{}
	}
	a := b.Accounts[d.Account]
	d.apply(&a)
	b.Accounts[d.Account] = a
}

func (d Deposit) apply(a *Account) {
	a.Balance += d.Amount
	a.Ops++
	a.Last = d.Ref
}

const numAccounts = 1000

var accountNames = func() []string {
	s := make([]string, numAccounts)
	for i := range s {
		s[i] = fmt.Sprintf("acct/%06d", i)
	}
	return s
}()

var refPad = strings.Repeat("x", 46)

// deposit is mutation i: it spreads over the accounts, so that concurrent
// writers rarely touch the same one.
func deposit(i int64) Deposit {
	return Deposit{Account: accountNames[(i*7919)%numAccounts], Amount: i%100 + 1, Ref: fmt.Sprintf("%s-%08d", refPad, i%100_000_000)}
}

// expectedBalance is account 0's balance after mutations 1..n.
func expectedBalance(n int64) int64 {
	var sum int64
	for i := int64(1); i <= n; i++ {
		if (i*7919)%numAccounts == 0 {
			sum += i%100 + 1
		}
	}
	return sum
}

const (
	rowMinistate    = "ministate"
	rowBoltRMWBatch = "bbolt Batch"
	rowBoltRMW      = "bbolt Update"
	rowPebbleRMW    = "pebble Get+Set(Sync)"
)

func stateSubjects() []subject {
	return []subject{
		{rowMinistate, Mini, openMinistate},
		{rowBoltRMW, Peer, openBoltRMW(false)},
		{rowPebbleRMW, Peer, openPebbleRMW},
		{rowBoltRMWBatch, Peer, openBoltRMW(true)},
	}
}

func openMinistate(cfg *config, dir string, _, _ int) (opFunc, func() error, error) {
	m, err := ministate.Open[Bank, Deposit](dir, "state.log", &ministate.Options{Logger: quietLog})
	if err != nil {
		return nil, nil, err
	}
	return func(_ int, i int64) error {
		_, err := m.Apply(deposit(i))
		return err
	}, m.Close, nil
}

var accountsBucket = []byte("accounts")

func boltRMW(tx *bolt.Tx, d Deposit) error {
	b := tx.Bucket(accountsBucket)
	var a Account
	if v := b.Get([]byte(d.Account)); v != nil {
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
	}
	d.apply(&a)
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return b.Put([]byte(d.Account), v)
}

func openBoltRMW(batch bool) func(cfg *config, dir string, _, _ int) (opFunc, func() error, error) {
	return func(cfg *config, dir string, _, _ int) (opFunc, func() error, error) {
		db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, nil)
		if err != nil {
			return nil, nil, err
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(accountsBucket)
			return err
		}); err != nil {
			db.Close()
			return nil, nil, err
		}
		txFn := db.Update
		if batch {
			txFn = db.Batch
		}
		return func(_ int, i int64) error {
			d := deposit(i)
			return txFn(func(tx *bolt.Tx) error { return boltRMW(tx, d) })
		}, db.Close, nil
	}
}

// pebbleRMW reads, changes and writes one account; the caller holds the
// account's lock.
func pebbleRMW(db *pebble.DB, d Deposit, opts *pebble.WriteOptions) error {
	var a Account
	v, closer, err := db.Get([]byte(d.Account))
	switch {
	case err == nil:
		err = json.Unmarshal(v, &a)
		closer.Close()
		if err != nil {
			return err
		}
	case !errors.Is(err, pebble.ErrNotFound):
		return err
	}
	d.apply(&a)
	nv, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return db.Set([]byte(d.Account), nv, opts)
}

// openPebbleRMW: pebble has no read-modify-write transaction, so writers
// lock the account (256 striped mutexes) around Get and Set(Sync); writers
// on different accounts go on in parallel and share pebble's WAL syncs.
func openPebbleRMW(cfg *config, dir string, _, _ int) (opFunc, func() error, error) {
	db, err := pebble.Open(dir, pebbleOptions())
	if err != nil {
		return nil, nil, err
	}
	var locks [256]sync.Mutex
	seed := maphash.MakeSeed()
	return func(_ int, i int64) error {
		d := deposit(i)
		mu := &locks[maphash.String(seed, d.Account)%uint64(len(locks))]
		mu.Lock()
		defer mu.Unlock()
		return pebbleRMW(db, d, pebble.Sync)
	}, db.Close, nil
}

func goroutinesCol(g int) string {
	if g == 1 {
		return "1 goroutine"
	}
	return fmt.Sprintf("%d goroutines", g)
}

func runState(cfg *config) []*Table {
	apply := &Table{
		ID:       "State apply",
		Title:    "State manager: one deposit into one of 1,000 accounts, durable on return",
		Unit:     "mutations/s",
		Mini:     rowMinistate,
		Headline: true,
		Note: "ministate.Apply logs the deposit (about 100 bytes of JSON) to its journal, fsyncs it (shared between concurrent callers) and applies it to the state in memory. " +
			"bbolt reads the account, changes it and writes it back in one transaction (Update: one at a time; Batch: concurrent calls share a transaction). " +
			"pebble has no such transaction: the caller locks the account (256 striped mutexes), then Get and Set with pebble.Sync; " +
			"callers on different accounts share pebble's WAL syncs. Every store holds the same accounts as JSON.",
	}
	runThroughput(cfg, apply, stateSubjects(), 0, cfg.stateWriters, goroutinesCol)
	cfg.emit(apply)
	return []*Table{apply}
}

// Recovery: a state whose history is cfg.recoverN deposits is written by a
// child process that then exits without closing anything (a crash); each
// run copies those files and times, in a fresh child, Open until the first
// read is served.

var recoveryLibs = []struct {
	name string
	role Role
	lib  string
}{
	{"ministate, snapshot + tail", Mini, "ministate-snap"},
	{"ministate, snapshot + tail (jsonv2codec)", Mini, "ministate-snap-v2"},
	{"bbolt", Peer, "bolt"},
	{"ministate, whole journal (no snapshot)", Mini, "ministate-full"},
	{"ministate, whole journal (jsonv2codec)", Mini, "ministate-full-v2"},
	{"pebble", Peer, "pebble"},
	{rowRecordsTyped, Limit, "records-typed"},
	{rowRecordsTypedV2, Limit, "records-typed-v2"},
}

// rowRecordsTyped is the reference for the whole-journal row: the same
// journal read with ministore.Records, decoded and applied, no Manager.
const rowRecordsTyped = "ministore.Records, decoded + applied (whole journal)"

// rowRecordsTypedV2 is the same with jsonv2codec, the reference for the
// whole-journal row with jsonv2codec.
const rowRecordsTypedV2 = "ministore.Records, decoded + applied (whole journal, jsonv2codec)"

// recoverySet is the data set a recovery row opens: the reference reads
// the whole-journal row's files.
func recoverySet(lib string) string {
	switch lib {
	case "records-typed", "records-typed-v2", "ministate-full-v2":
		return "ministate-full"
	case "ministate-snap-v2":
		return "ministate-snap"
	}
	return lib
}

func runRecovery(cfg *config) []*Table {
	n, tail := cfg.recoverN, cfg.recTail
	root := filepath.Join(cfg.dir, "recovery")
	defer os.RemoveAll(root)
	built := map[string]bool{}
	for _, l := range recoveryLibs {
		if recoverySet(l.lib) != l.lib {
			continue
		}
		t0 := time.Now()
		dir := filepath.Join(root, "built", l.lib)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			cfg.problem("recovery: %v", err)
			continue
		}
		if _, err := runChild(childSpec{Task: "recover-build", Lib: l.lib, Dir: dir, N: n, Tail: tail}); err != nil {
			cfg.problem("recovery: build %s: %v", l.lib, err)
			continue
		}
		built[l.lib] = true
		cfg.progress(fmt.Sprintf("  built %s: %d deposits, %.0f MiB on disk, in %s", l.lib, n, float64(dirSize(dir))/(1<<20), time.Since(t0).Round(time.Millisecond)))
	}
	col := fmt.Sprintf("%s deposits", group(int64(n)))
	t := &Table{
		ID:       "State recovery",
		Title:    fmt.Sprintf("State recovery after a crash: Open until the first read is served, history of %s deposits into 1,000 accounts", group(int64(n))),
		Unit:     "ms",
		Lower:    true,
		Mini:     "ministate, snapshot + tail",
		Headline: true,
		Note: fmt.Sprintf("A child process wrote the history (the journals in batches of 10,000, each synced, as a Manager syncs each group) and exited without closing anything, as a crash would; each run starts a fresh process on a copy of those files. "+
			"ministate, snapshot + tail: a snapshot (Compact) after %s deposits, then %s more through Apply; "+
			"ministate, whole journal: every deposit in the journal, no snapshot, so Open replays all of them. "+
			"bbolt and pebble keep only the 1,000 current accounts (pebble replays its WAL tail on Open). "+
			"The ministore.Records row is the reference for the whole-journal row: the same files read with ministore.Records, each deposit decoded and applied to the accounts, no Manager (no lock, no checks of the journal's tail, no snapshot). "+
			"The (jsonv2codec) rows open the same files with Options.JournalCodec (ministate) or Options.Codec (ministore) set to ministore/jsonv2codec. "+
			"Every run checks that account 0 holds the expected balance.",
			group(int64(n-tail)), group(int64(tail))),
	}
	mem := &Table{
		ID:    "Recovery memory",
		Title: "State recovery: peak RSS of the recovering process",
		Unit:  "MiB",
		Lower: true,
		Mini:  "ministate, snapshot + tail",
	}
	want := expectedBalance(int64(n))
	for round := range cfg.slowRuns {
		line := fmt.Sprintf("  recovery run %d/%d:", round+1, cfg.slowRuns)
		for _, l := range Rotate(recoveryLibs, round) {
			if !built[recoverySet(l.lib)] {
				continue
			}
			dir := filepath.Join(root, fmt.Sprintf("run-%d-%s", round, l.lib))
			if err := copyTree(filepath.Join(root, "built", recoverySet(l.lib)), dir); err != nil {
				cfg.problem("recovery %s: copy: %v", l.name, err)
				continue
			}
			r, err := runChild(childSpec{Task: "recover-open", Lib: l.lib, Dir: dir, N: n})
			os.RemoveAll(dir)
			if err != nil {
				cfg.problem("recovery %s: %v", l.name, err)
				continue
			}
			if r.Records != want {
				cfg.problem("recovery %s: account 0 holds %d, want %d", l.name, r.Records, want)
				continue
			}
			t.Add(l.name, l.role, col, r.Seconds*1000)
			mem.Add(l.name, l.role, col, float64(r.MaxRSS)/1024)
			line += fmt.Sprintf(" %s %.1f ms;", l.name, r.Seconds*1000)
		}
		cfg.progress(line)
	}
	cfg.emit(t)
	cfg.emit(mem)
	return []*Table{t, mem}
}

// recoverBuild writes the history in a child process; the caller exits
// without closing anything.
func recoverBuild(spec childSpec) error {
	n, tail := int64(spec.N), int64(spec.Tail)
	const batch = 10_000
	switch spec.Lib {
	case "ministate-full", "ministate-snap":
		upto := n
		if spec.Lib == "ministate-snap" {
			upto = n - tail
		}
		s, err := ministore.Open[Deposit](filepath.Join(spec.Dir, "state.log"), &ministore.Options{Sync: ministore.SyncNever, Logger: quietLog})
		if err != nil {
			return err
		}
		ds := make([]Deposit, 0, batch)
		for i := int64(1); i <= upto; i++ {
			ds = append(ds, deposit(i))
			if len(ds) == batch || i == upto {
				if _, _, err := s.AppendBatch(ds...); err != nil {
					return err
				}
				// Synced batch by batch, as a Manager syncs each group:
				// each record's "sync" field then proves the batches
				// before it durable, and Open writes again (and
				// fsyncs) only the last batch, not the whole newest
				// segment, as it must for records nothing proves.
				if err := s.Sync(); err != nil {
					return err
				}
				ds = ds[:0]
			}
		}
		if spec.Lib == "ministate-full" {
			return nil
		}
		if err := s.Close(); err != nil {
			return err
		}
		m, err := ministate.Open[Bank, Deposit](spec.Dir, "state.log", &ministate.Options{Logger: quietLog})
		if err != nil {
			return err
		}
		if _, err := m.Compact(); err != nil {
			return err
		}
		var next atomic.Int64
		next.Store(upto)
		var wg sync.WaitGroup
		var firstErr atomic.Value
		for range 64 {
			wg.Go(func() {
				for {
					i := next.Add(1)
					if i > n {
						return
					}
					if _, err := m.Apply(deposit(i)); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if err, ok := firstErr.Load().(error); ok {
			return err
		}
		return nil
	case "bolt":
		db, err := bolt.Open(filepath.Join(spec.Dir, "bolt.db"), 0o600, &bolt.Options{NoSync: true})
		if err != nil {
			return err
		}
		for lo := int64(1); lo <= n; lo += batch {
			err := db.Update(func(tx *bolt.Tx) error {
				if _, err := tx.CreateBucketIfNotExists(accountsBucket); err != nil {
					return err
				}
				for i := lo; i < lo+batch && i <= n; i++ {
					if err := boltRMW(tx, deposit(i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return db.Sync()
	case "pebble":
		db, err := pebble.Open(spec.Dir, pebbleOptions())
		if err != nil {
			return err
		}
		for i := int64(1); i <= n; i++ {
			opts := pebble.NoSync
			if i == n {
				opts = pebble.Sync
			}
			if err := pebbleRMW(db, deposit(i), opts); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown library %q", spec.Lib)
}

// recoverOpen opens the state and reads account 0; Records carries its
// balance back to the parent, which checks it.
func recoverOpen(spec childSpec) (childResult, error) {
	var r childResult
	start := time.Now()
	acct := accountNames[0]
	switch spec.Lib {
	case "ministate-full", "ministate-snap", "ministate-full-v2", "ministate-snap-v2":
		o := &ministate.Options{Logger: quietLog}
		if strings.HasSuffix(spec.Lib, "-v2") {
			o.JournalCodec = jsonv2codec.New()
		}
		m, err := ministate.Open[Bank, Deposit](spec.Dir, "state.log", o)
		if err != nil {
			return r, err
		}
		m.View(func(b *Bank) { r.Records = b.Accounts[acct].Balance })
		r.Seconds = time.Since(start).Seconds()
		if m.Sequence() != uint64(spec.N) {
			return r, fmt.Errorf("recovered sequence %d, want %d", m.Sequence(), spec.N)
		}
	case "records-typed", "records-typed-v2":
		var b Bank
		var o *ministore.Options
		if spec.Lib == "records-typed-v2" {
			o = &ministore.Options{Codec: jsonv2codec.New()}
		}
		for rec, err := range ministore.RecordsWith[Deposit](filepath.Join(spec.Dir, "state.log"), 0, o) {
			if err != nil {
				return r, err
			}
			rec.Value.Apply(&b)
			if rec.Seq == uint64(spec.N) {
				r.Records = b.Accounts[acct].Balance
			}
		}
		r.Seconds = time.Since(start).Seconds()
	case "bolt":
		db, err := bolt.Open(filepath.Join(spec.Dir, "bolt.db"), 0o600, nil)
		if err != nil {
			return r, err
		}
		err = db.View(func(tx *bolt.Tx) error {
			var a Account
			if err := json.Unmarshal(tx.Bucket(accountsBucket).Get([]byte(acct)), &a); err != nil {
				return err
			}
			r.Records = a.Balance
			return nil
		})
		r.Seconds = time.Since(start).Seconds()
		if err != nil {
			return r, err
		}
	case "pebble":
		db, err := pebble.Open(spec.Dir, pebbleOptions())
		if err != nil {
			return r, err
		}
		v, closer, err := db.Get([]byte(acct))
		if err != nil {
			return r, err
		}
		var a Account
		err = json.Unmarshal(v, &a)
		closer.Close()
		r.Seconds = time.Since(start).Seconds()
		if err != nil {
			return r, err
		}
		r.Records = a.Balance
	default:
		return r, fmt.Errorf("unknown library %q", spec.Lib)
	}
	return r, nil
}
