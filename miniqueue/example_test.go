// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/mini-go/mini/miniqueue"
)

// quiet drops the queue's warnings (such as a message moved to the
// dead-letter queue) from the examples' output.
var quiet = slog.New(slog.DiscardHandler)

type Order struct {
	ID    int    `json:"id"`
	Item  string `json:"item"`
	Count int    `json:"count"`
}

func Example() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)

	q, err := miniqueue.Open[Order](dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()

	// Durable when Push returns.
	q.Push(Order{ID: 1, Item: "tea", Count: 2})
	q.Push(Order{ID: 2, Item: "cake", Count: 1})

	ctx := context.Background()
	for range 2 {
		m, err := q.Receive(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("order %d: %d x %s (message %d, attempt %d)\n", m.Value.ID, m.Value.Count, m.Value.Item, m.Seq, m.Attempt)
		if err := m.Ack(); err != nil { // not delivered again, even after a crash
			log.Fatal(err)
		}
	}
	fmt.Println("left:", q.Len())
	// Output:
	// order 1: 2 x tea (message 1, attempt 1)
	// order 2: 1 x cake (message 2, attempt 1)
	// left: 0
}

// Each consumer receives every message; a message left unacknowledged when
// the queue closes is delivered again when it is reopened.
func Example_fanOutAndRestart() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)

	q, _ := miniqueue.Open[string](dir, nil)
	billing, audit := q.Consumer("billing"), q.Consumer("audit")
	q.Push("invoice #7")

	ctx := context.Background()
	m, _ := billing.Receive(ctx)
	m.Ack()
	m, _ = audit.Receive(ctx) // received, never acked: the process "dies"
	q.Close()

	q, _ = miniqueue.Open[string](dir, nil)
	defer q.Close()
	m, _ = q.Consumer("audit").Receive(ctx)
	fmt.Println(m.Value, "attempt", m.Attempt)
	m.Ack()
	fmt.Println("billing lag:", q.Consumer("billing").Lag())
	// Output:
	// invoice #7 attempt 2
	// billing lag: 0
}

// A message that fails MaxDeliveries times goes to the dead-letter queue,
// from which it can be replayed once the bug is fixed.
func Example_deadLetters() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)

	q, _ := miniqueue.Open[string](dir, &miniqueue.Options{MaxDeliveries: 2})
	defer q.Close()
	q.Push("poison")

	ctx := context.Background()
	for range 2 {
		m, _ := q.Receive(ctx)
		fmt.Println("failed:", m.Value, "attempt", m.Attempt)
		m.Nack(0) // deliver again at once
	}
	// The third delivery would exceed MaxDeliveries.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := q.Receive(short)
	cancel()
	fmt.Println("receive:", err)

	for dl, err := range q.DeadLetters().All() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("dead: %s (message %d, %s)\n", dl.Value, dl.Seq, dl.Reason)
		q.DeadLetters().Replay(dl.ID)
	}
	m, _ := q.Receive(ctx)
	fmt.Println("replayed:", m.Value, "attempt", m.Attempt)
	m.Ack()
	// Output:
	// failed: poison attempt 1
	// failed: poison attempt 2
	// receive: context deadline exceeded
	// dead: poison (message 1, MaxDeliveries reached (2 deliveries))
	// replayed: poison attempt 1
}

// Several goroutines on one consumer share its messages.
func ExampleConsumer_Messages() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)
	q, _ := miniqueue.Open[int](dir, nil)
	defer q.Close()
	q.PushBatch(1, 2, 3, 4, 5, 6) // one write, one fsync

	ctx, cancel := context.WithCancel(context.Background())
	sums := make(chan int)
	for range 3 {
		go func() {
			sum := 0
			for m, err := range q.Consumer("workers").Messages(ctx) {
				if err != nil {
					log.Print(err)
					break
				}
				sum += m.Value
				m.Ack()
			}
			sums <- sum // the loop ends when ctx is cancelled
		}()
	}
	for q.Consumer("workers").Lag() > 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	fmt.Println("total:", <-sums+<-sums+<-sums)
	// Output:
	// total: 21
}

func ExampleOptions_maxBytes() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)
	// Each message below is stored as {"v":"12345678"}: 16 bytes.
	q, _ := miniqueue.Open[string](dir, &miniqueue.Options{MaxBytes: 32})
	defer q.Close()
	q.Consumer("")
	for i := range 3 {
		_, err := q.Push("12345678")
		fmt.Println("push", i+1, err)
	}
	// Output:
	// push 1 <nil>
	// push 2 <nil>
	// push 3 miniqueue: queue full: 16 bytes do not fit (32 of 32 in use)
}

// Term gives up on a message at once: it goes to the dead-letter queue
// without waiting for MaxDeliveries.
func ExampleMessage_Term() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)

	q, _ := miniqueue.Open[Order](dir, &miniqueue.Options{Logger: quiet})
	defer q.Close()
	q.Push(Order{ID: 1, Item: "", Count: -3})

	m, _ := q.Receive(context.Background())
	if m.Value.Count < 0 {
		m.Term("negative count") // durable when it returns; never delivered again
	}
	for dl, err := range q.DeadLetters().All() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("dead letter %d: order %d, %q after %d delivery\n", dl.ID, dl.Value.ID, dl.Reason, dl.Attempts)
	}
	fmt.Println("left:", q.Len())
	// Output:
	// dead letter 1: order 1, "Term: negative count" after 1 delivery
	// left: 0
}

// BackOff spaces out the redeliveries of a failing message; the delay of a
// Nack is on disk when Nack returns, so it holds across a restart.
func ExampleOptions_backOff() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)

	opts := &miniqueue.Options{BackOff: []time.Duration{20 * time.Millisecond, 50 * time.Millisecond}}
	q, _ := miniqueue.Open[string](dir, opts)
	q.Push("flaky job")

	ctx := context.Background()
	m, _ := q.Receive(ctx)
	start := time.Now()
	m.Nack(0) // fails: try again after BackOff[0]
	q.Close()

	q, _ = miniqueue.Open[string](dir, opts) // the delay survives the restart
	defer q.Close()
	m, _ = q.Receive(ctx)
	fmt.Printf("%s: attempt %d, not before 20ms: %v\n", m.Value, m.Attempt, time.Since(start) >= 20*time.Millisecond)
	m.Ack()
	// Output:
	// flaky job: attempt 2, not before 20ms: true
}

// PushWithID makes a retried push harmless: a producer that does not know
// whether its push went through (it timed out, or its process restarted)
// pushes again with the same ID and gets the first message's number.
func ExampleQueue_PushWithID() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)

	q, _ := miniqueue.Open[Order](dir, nil) // DedupWindow: 2 minutes
	seq, dup, _ := q.PushWithID("order-7", Order{ID: 7, Item: "tea", Count: 1})
	fmt.Println(seq, dup)
	q.Close()

	q, _ = miniqueue.Open[Order](dir, nil) // a restart, or a crash
	defer q.Close()
	seq, dup, _ = q.PushWithID("order-7", Order{ID: 7, Item: "tea", Count: 1})
	fmt.Println(seq, dup, q.Len())
	// Output:
	// 1 false
	// 1 true 1
}

// PushAt schedules a message; Delete and Purge drop queued messages for
// every consumer; ReceiveBatch takes what is ready at once.
func ExampleQueue_PushAt() {
	dir, _ := os.MkdirTemp("", "miniqueue")
	defer os.RemoveAll(dir)

	q, _ := miniqueue.Open[string](dir, nil)
	defer q.Close()
	q.PushAt(time.Now().Add(time.Hour), "reminder") // message 1: not before an hour from now
	q.Push("stale")                                 // 2
	q.Push("job a")                                 // 3
	q.Push("job b")                                 // 4
	q.Delete(2)

	ms, _ := q.ReceiveBatch(context.Background(), 10) // the reminder is not due
	for _, m := range ms {
		fmt.Println(m.Seq, m.Value)
		m.Ack()
	}
	fmt.Println("waiting:", q.Len())
	q.Purge(0) // everything queued, the reminder too
	fmt.Println("left:", q.Len())
	// Output:
	// 3 job a
	// 4 job b
	// waiting: 1
	// left: 0
}
