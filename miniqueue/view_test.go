// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mini-go/mini/ministore"
)

// listTree returns every file under dir with its size.
func listTree(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A View of a queue the program has open shows what the program's Stats
// show of the folder, and writes nothing.
func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	q := openT[string](t, dir, &Options{MaxDeliveries: 2, VisibilityTimeout: time.Hour})
	defer q.Close()
	mustPush(t, q, "a", "b", "c", "d", "e", "f", "g")
	ctx := context.Background()
	mustAck(t, recvT(t, q.Consumer(""))) // a
	m := recvT(t, q.Consumer(""))        // b: in flight
	_ = m
	late := recvT(t, q.Consumer("")) // c: nacked for an hour
	if err := late.Nack(time.Hour); err != nil {
		t.Fatal(err)
	}
	other := q.Consumer("other")
	for range 2 { // other starts at b, which dies after two deliveries
		m, err := other.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Nack(0); err != nil {
			t.Fatal(err)
		}
	}
	if m := recvT(t, other); m.Seq != 3 { // b goes to the dead letters
		t.Fatalf("other received %d", m.Seq)
	}
	if err := q.Delete(6); err != nil {
		t.Fatal(err)
	}

	before := listTree(t, dir)
	v, err := OpenReadOnly[string](dir, nil)
	if err != nil {
		t.Fatalf("OpenReadOnly beside the program: %v", err)
	}
	defer v.Close()
	if after := listTree(t, dir); !mapsEqual(before, after) {
		t.Fatalf("OpenReadOnly wrote:\nbefore %v\nafter  %v", before, after)
	}
	live, got := q.Stats(), v.Stats()
	if got.FirstSeq != live.FirstSeq || got.LastSeq != live.LastSeq || got.Len != live.Len ||
		got.DeadLetters != live.DeadLetters || len(got.Consumers) != len(live.Consumers) {
		t.Fatalf("View.Stats %+v\nQueue.Stats %+v", got, live)
	}
	for i, c := range got.Consumers {
		l := live.Consumers[i]
		if c.Name != l.Name || c.Lag != l.Lag || c.Floor != l.Floor || c.InFlight != l.InFlight {
			t.Fatalf("consumer %q: View %+v, Queue %+v", c.Name, c, l)
		}
	}
	// In flight: for "" b (c is nacked for an hour); for "other" c.
	if got.Consumers[0].InFlight != 1 || got.Consumers[1].InFlight != 1 {
		t.Fatalf("in flight: %+v", got.Consumers)
	}
	if got.Journal.Segments == 0 || got.Journal.Bytes == 0 || got.ConsumerJournal.Bytes == 0 {
		t.Fatalf("journal gauges: %+v %+v", got.Journal, got.ConsumerJournal)
	}
	var seqs []uint64
	for p, err := range v.Peek("") {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, p.Seq)
		if p.Seq == 2 && p.Deliveries != 1 || p.Seq == 4 && p.Deliveries != 0 || p.Value == "" {
			t.Fatalf("peeked %+v", p)
		}
	}
	if want := []uint64{2, 3, 4, 5, 7}; !slices.Equal(seqs, want) {
		t.Fatalf("Peek(\"\") = %v, want %v", seqs, want)
	}
	var dead []DeadLetter[string]
	for d, err := range v.DeadLetters() {
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, d)
	}
	if len(dead) != 1 || dead[0].Consumer != "other" || dead[0].Value != "b" {
		t.Fatalf("dead letters %+v", dead)
	}
	if _, err := OpenReadOnly[string](filepath.Join(dir, "nothing"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadOnly of no queue: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing")); !os.IsNotExist(err) {
		t.Fatal("OpenReadOnly created the folder")
	}
	for _, err := range v.Peek("nobody") {
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Peek of no consumer: %v", err)
		}
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Views read over and over beside a program that pushes, receives and
// acknowledges, with small segments and frequent checkpoints (so the
// program deletes segments under the reads), never fail and always fit
// together.
func TestOpenReadOnlyLive(t *testing.T) {
	dir := t.TempDir()
	o := &Options{MaxSegmentBytes: 4 << 10, consSegmentBytes: 2 << 10, checkpointBytes: 2 << 10}
	q := openT[string](t, dir, o)
	defer q.Close()
	pad := strings.Repeat("x", 300) // a rotation every dozen messages
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := q.Push(strconv.Itoa(i) + pad); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			m, err := q.Receive(ctx)
			if err != nil {
				if ctx.Err() == nil {
					t.Error(err)
				}
				return
			}
			if err := m.Ack(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	// At least a second, and until the program has pushed enough to
	// rotate a few times (a loaded machine pushes slowly); at most 15 s.
	start := time.Now()
	var prev Stats
	n := 0
	for (time.Since(start) < time.Second || prev.LastSeq < 50) && time.Since(start) < 15*time.Second {
		v, err := OpenReadOnly[string](dir, nil)
		if err != nil {
			t.Fatalf("OpenReadOnly beside a live queue: %v", err)
		}
		st := v.Stats()
		if st.LastSeq < prev.LastSeq || len(prev.Consumers) == 1 && st.Consumers[0].Floor < prev.Consumers[0].Floor {
			t.Fatalf("went back: %+v after %+v", st, prev)
		}
		if len(st.Consumers) == 1 && (st.Consumers[0].Floor > st.LastSeq+1 || st.FirstSeq > st.Consumers[0].Floor) {
			t.Fatalf("does not fit together: %+v", st)
		}
		peeked := 0
		for _, err := range v.Peek("") {
			if len(st.Consumers) == 0 {
				break // the receiver has not created the consumer yet
			}
			if err != nil {
				t.Fatalf("Peek beside a live queue: %v", err)
			}
			if peeked++; peeked == 5 {
				break
			}
		}
		prev = st
		n++
	}
	cancel()
	wg.Wait()
	if n < 5 || prev.LastSeq < 50 {
		t.Fatalf("%d views, last at message %d: the test did not run", n, prev.LastSeq)
	}
	if q.Stats().Journal.Rotations == 0 {
		t.Fatal("the message journal never rotated: the test did not exercise deleted segments")
	}
}

// Damage in a sealed segment is an error, read-only or not.
func TestOpenReadOnlyDamage(t *testing.T) {
	dir := t.TempDir()
	q := openT[string](t, dir, &Options{MaxSegmentBytes: 1 << 10})
	q.Consumer("")
	for range 100 {
		mustPush(t, q, "a message long enough to fill segments")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, messagesFile+".001")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-20] ^= 0x01
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := OpenReadOnly[string](dir, nil)
	if err == nil {
		for _, err = range v.Peek("") {
			if err != nil {
				break
			}
		}
	}
	if !errors.Is(err, ministore.ErrCorrupt) {
		t.Fatalf("damaged sealed segment: %v, want ministore.ErrCorrupt", err)
	}
}
