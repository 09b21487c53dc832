// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/vfs"
)

func TestOptionsResolved(t *testing.T) {
	tests := []struct {
		name    string
		in      *Options
		check   func(Options) bool
		wantErr bool
	}{
		{"nil gives defaults", nil, func(o Options) bool {
			return o.VisibilityTimeout == 30*time.Second && o.MaxDeliveries == 10 && o.MaxBytes == 0 &&
				o.MaxSegmentBytes == 16<<20 && o.CacheBytes == 8<<20 && o.Logger != nil && o.FS == vfs.OS
		}, false},
		{"MaxBytes shrinks segments", &Options{MaxBytes: 1 << 20}, func(o Options) bool {
			return o.MaxSegmentBytes == 256<<10
		}, false},
		{"but not below 64 KiB", &Options{MaxBytes: 1000}, func(o Options) bool {
			return o.MaxSegmentBytes == 64<<10
		}, false},
		{"explicit segment size wins", &Options{MaxBytes: 1 << 20, MaxSegmentBytes: 8 << 20}, func(o Options) bool {
			return o.MaxSegmentBytes == 8<<20
		}, false},
		{"negative MaxDeliveries means no limit", &Options{MaxDeliveries: -1}, func(o Options) bool {
			return o.MaxDeliveries == -1
		}, false},
		{"negative CacheBytes turns the cache off", &Options{CacheBytes: -1}, func(o Options) bool {
			return o.CacheBytes == 0
		}, false},
		{"negative timeout", &Options{VisibilityTimeout: -time.Second}, nil, true},
		{"negative MaxBytes", &Options{MaxBytes: -1}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before Options
			if tt.in != nil {
				before = *tt.in
			}
			got, err := tt.in.resolved()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.in != nil && !reflect.DeepEqual(*tt.in, before) {
				t.Fatalf("resolved changed the caller's options: %+v, was %+v", *tt.in, before)
			}
			if err == nil && !tt.check(got) {
				t.Fatalf("resolved = %+v", got)
			}
		})
	}
}

func TestPushReceiveAck(t *testing.T) {
	q := openT[string](t, t.TempDir(), nil)
	for i, v := range []string{"a", "b", "c"} {
		seq, err := q.Push(v)
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("Push(%q) = %d, %v; want %d", v, seq, err, i+1)
		}
	}
	if n := q.Len(); n != 3 {
		t.Fatalf("Len = %d before any consumer, want 3", n)
	}
	c := q.Consumer("")
	for i, want := range []string{"a", "b", "c"} {
		m := recvT(t, c)
		if m.Value != want || m.Seq != uint64(i+1) || m.Attempt != 1 || m.Consumer() != "" {
			t.Fatalf("got %q seq %d attempt %d, want %q seq %d attempt 1", m.Value, m.Seq, m.Attempt, want, i+1)
		}
		if i == 1 {
			if st := c.Stats(); st.InFlight != 1 || st.Lag != 2 || st.Floor != 2 {
				t.Fatalf("stats with one acked and one in flight: %+v", st)
			}
		}
		mustAck(t, m)
	}
	if q.Len() != 0 || c.Lag() != 0 {
		t.Fatalf("Len %d, Lag %d after acking everything", q.Len(), c.Lag())
	}
	st := q.Stats()
	if st.LastSeq != 3 || len(st.Consumers) != 1 || st.Consumers[0].Delivered != 3 || st.Consumers[0].Acked != 3 ||
		st.Consumers[0].Floor != 4 {
		t.Fatalf("Stats = %+v", st)
	}
}

// TestReopen checks what is delivered after Close and Open, for a set of
// histories: everything unacknowledged comes back at once, with its
// delivery count kept, and nothing acknowledged does.
func TestReopen(t *testing.T) {
	type delivery struct {
		seq     uint64
		attempt int
	}
	tests := []struct {
		name     string
		push     int
		received int        // messages received before Close
		acked    []int      // indexes (into the received ones) acked
		want     []delivery // after reopen, in order
	}{
		{"nothing received", 3, 0, nil, []delivery{{1, 1}, {2, 1}, {3, 1}}},
		{"all acked", 3, 3, []int{0, 1, 2}, nil},
		{"in flight come back first", 4, 2, nil, []delivery{{1, 2}, {2, 2}, {3, 1}, {4, 1}}},
		{"acked out of order", 5, 4, []int{1, 3}, []delivery{{1, 2}, {3, 2}, {5, 1}}},
		{"only the last unacked", 3, 3, []int{0, 1}, []delivery{{3, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			q, err := Open[int](dir, &Options{Logger: testutil.Quiet()})
			if err != nil {
				t.Fatal(err)
			}
			c := q.Consumer("")
			for i := range tt.push {
				mustPush(t, q, i)
			}
			var got []*Message[int]
			for range tt.received {
				got = append(got, recvT(t, c))
			}
			for _, i := range tt.acked {
				mustAck(t, got[i])
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q = openT[int](t, dir, nil)
			c = q.Consumer("")
			var after []delivery
			for c.Lag() > 0 {
				m := recvT(t, c)
				after = append(after, delivery{m.Seq, m.Attempt})
				mustAck(t, m)
			}
			if !slices.Equal(after, tt.want) {
				t.Fatalf("after reopen got %v, want %v", after, tt.want)
			}
		})
	}
}

func TestFanOutAndCompetingWorkers(t *testing.T) {
	q := openT[int](t, t.TempDir(), nil)
	consumers := []string{"billing", "audit"}
	for _, n := range consumers {
		q.Consumer(n)
	}
	const n, workers = 300, 4
	var wg sync.WaitGroup
	for p := range 3 {
		wg.Go(func() {
			for i := p; i < n; i += 3 {
				mustPush(t, q, i)
			}
		})
	}
	got := map[string][]int{}
	var mu sync.Mutex
	for _, name := range consumers {
		c := q.Consumer(name)
		for range workers {
			wg.Go(func() {
				for {
					mu.Lock()
					done := len(got[name]) >= n
					mu.Unlock()
					if done {
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
					m, err := c.Receive(ctx)
					cancel()
					if err != nil {
						continue
					}
					mu.Lock()
					got[name] = append(got[name], m.Value)
					mu.Unlock()
					if err := m.Ack(); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	for _, name := range consumers {
		vs := got[name]
		slices.Sort(vs)
		if len(vs) != n || vs[0] != 0 || vs[n-1] != n-1 || len(slices.Compact(vs)) != n {
			t.Fatalf("consumer %s got %d messages (%d distinct), want each of %d once", name, len(got[name]), len(slices.Compact(vs)), n)
		}
		if st := q.Consumer(name).Stats(); st.Redelivered != 0 || st.Lag != 0 {
			t.Fatalf("consumer %s: %+v", name, st)
		}
	}
}

func TestLockedFolder(t *testing.T) {
	dir := t.TempDir()
	q := openT[int](t, dir, nil)
	if _, err := Open[int](dir, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	q.Close()
	q2, err := Open[int](dir, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	q2.Close()
}

func TestMessageErrors(t *testing.T) {
	q := openT[int](t, t.TempDir(), nil)
	mustPush(t, q, 1, 2)
	c := q.Consumer("")
	m := recvT(t, c)
	mustAck(t, m)
	for name, call := range map[string]func() error{
		"Ack":    m.Ack,
		"Nack":   func() error { return m.Nack(0) },
		"Extend": func() error { return m.Extend(time.Second) },
	} {
		err := call()
		var me *MessageError
		if !errors.Is(err, ErrAcked) || !errors.As(err, &me) || me.Seq != 1 || me.Attempt != 1 ||
			err.Error() != `miniqueue: message already acknowledged (consumer "", message 1, attempt 1)` {
			t.Fatalf("%s after Ack = %v, want a *MessageError matching ErrAcked", name, err)
		}
	}
	m2 := recvT(t, c)
	q.Close()
	if err := m2.Ack(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ack after Close = %v, want ErrClosed", err)
	}
	if _, err := q.Push(3); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after Close = %v", err)
	}
	if _, err := c.Receive(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Receive after Close = %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestReceiveWaitsAndCloseWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[int](t, vfs.NewMem(), Options{})
		c := q.Consumer("")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Receive(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive with a cancelled context = %v", err)
		}
		got := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := c.Receive(context.Background())
				got <- err
			}()
		}
		synctest.Wait() // both receivers wait for a message
		select {
		case err := <-got:
			t.Fatalf("a receiver returned before any push: %v", err)
		default:
		}
		mustPush(t, q, 7)
		if err := <-got; err != nil {
			t.Fatalf("first waiting receiver: %v", err)
		}
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("the second receiver returned before Close: %v", err)
		default:
		}
		q.Close()
		if err := <-got; !errors.Is(err, ErrClosed) {
			t.Fatalf("second waiting receiver after Close: %v", err)
		}
	})
}

func TestMessagesIterator(t *testing.T) {
	q := openT[string](t, t.TempDir(), nil)
	mustPush(t, q, "x", "y", "z")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	for m, err := range q.Messages(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Value)
		mustAck(t, m)
		if len(got) == 3 {
			cancel() // ends the loop without an error
		}
	}
	if !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Fatalf("got %v", got)
	}
	// Breaking out early leaves the rest for later.
	mustPush(t, q, "again")
	for m := range q.Messages(context.Background()) {
		if m.Value != "again" {
			t.Fatalf("got %q", m.Value)
		}
		break
	}
	if q.Consumer("").Stats().InFlight != 1 {
		t.Fatal("the message received in the loop should be in flight")
	}
}

func TestPushBatch(t *testing.T) {
	q := openT[int](t, t.TempDir(), nil)
	first, last, err := q.PushBatch(10, 20, 30)
	if err != nil || first != 1 || last != 3 {
		t.Fatalf("PushBatch = %d, %d, %v", first, last, err)
	}
	if _, _, err := q.PushBatch(); err == nil {
		t.Fatal("empty batch accepted")
	}
	c := q.Consumer("")
	for _, want := range []int{10, 20, 30} {
		if m := recvT(t, c); m.Value != want {
			t.Fatalf("got %d, want %d", m.Value, want)
		}
	}
}

func TestConsumers(t *testing.T) {
	q := openT[int](t, t.TempDir(), nil)
	if c := q.Consumer("\xff"); c.err == nil {
		t.Fatal("a name that is not UTF-8 was accepted")
	}
	mustPush(t, q, 1, 2, 3, 4, 5) // held: there is no consumer
	a := q.Consumer("a")
	for range 3 {
		mustAck(t, recvT(t, a))
	}
	// A new consumer starts at the oldest message a has not acked.
	b := q.Consumer("b")
	if m := recvT(t, b); m.Seq != 4 {
		t.Fatalf("new consumer starts at %d, want 4", m.Seq)
	}
	if got := q.Consumers(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Consumers = %v", got)
	}
	// A receiver waiting on b when b is deleted gets ErrDeleted.
	synctest.Test(t, func(t *testing.T) {
		q := memQueue[int](t, vfs.NewMem(), Options{})
		mustPush(t, q, 1)
		b := q.Consumer("b")
		waiting := make(chan error, 1)
		go func() {
			for {
				m, err := b.Receive(context.Background())
				if err != nil {
					waiting <- err
					return
				}
				mustAck(t, m)
			}
		}()
		synctest.Wait() // the receiver has taken 1 and waits for more
		select {
		case err := <-waiting:
			t.Fatalf("the receiver returned before the deletion: %v", err)
		default:
		}
		if err := q.DeleteConsumer("b"); err != nil {
			t.Fatal(err)
		}
		if err := <-waiting; !errors.Is(err, ErrDeleted) {
			t.Fatalf("receiver of a deleted consumer got %v", err)
		}
	})
	if err := q.DeleteConsumer("b"); err != nil {
		t.Fatal(err)
	}
	if err := q.DeleteConsumer("b"); err == nil {
		t.Fatal("deleting a missing consumer succeeded")
	}
	// Recreated, it is a new consumer.
	if m := recvT(t, q.Consumer("b")); m.Seq != 4 || m.Attempt != 1 {
		t.Fatalf("recreated consumer got seq %d attempt %d", m.Seq, m.Attempt)
	}
	// Deletion is durable.
	dir := q.Dir()
	q.DeleteConsumer("b")
	q.Close()
	q = openT[int](t, dir, nil)
	if got := q.Consumers(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("Consumers after reopen = %v", got)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open[int]("", nil); err == nil {
		t.Fatal("empty folder accepted")
	}
	if _, err := Open[int](t.TempDir(), &Options{MaxBytes: -5}); err == nil {
		t.Fatal("negative MaxBytes accepted")
	}
	file := filepath.Join(t.TempDir(), "f")
	mem := vfs.NewMem()
	if err := vfs.MkdirAll(mem, filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := mem.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Open[int](file, withFS(Options{}, mem)); err == nil {
		t.Fatal("a file accepted as the queue's folder")
	}
}
