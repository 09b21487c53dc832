// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mini-go/mini/ministore"
)

// The benchmarks report ns/op per message, every write fsync'd (the
// default), with messages of about 100 bytes of JSON. The baseline is
// ministore.Append of the same records with as many goroutines, in the same
// run: the full cycle (push, receive, ack) costs three records and three
// fsync waits per message where the baseline costs one.
//
//	go test -run '^$' -bench . -count=2 ./miniqueue

type benchMsg struct {
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value string `json:"value"`
	N     int    `json:"n"`
}

func newBenchMsg(i int) benchMsg {
	return benchMsg{Op: "put", Key: "user/000000000042", Value: "the quick brown fox jumps over the lazy dog", N: i}
}

// parallel runs fn(i) for i in [0, n) on workers goroutines.
func parallel(b *testing.B, workers, n int, fn func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if err := fn(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkAppendBaseline(b *testing.B) {
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("producers=%d", p), func(b *testing.B) {
			s, err := ministore.Open[benchMsg](filepath.Join(b.TempDir(), "j.log"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(100)
			b.ResetTimer()
			parallel(b, p, b.N, func(i int) error {
				_, err := s.Append(newBenchMsg(i))
				return err
			})
		})
	}
}

func BenchmarkPush(b *testing.B) {
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("producers=%d", p), func(b *testing.B) {
			q, err := Open[benchMsg](b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			b.SetBytes(100)
			b.ResetTimer()
			parallel(b, p, b.N, func(i int) error {
				_, err := q.Push(newBenchMsg(i))
				return err
			})
		})
	}
}

// BenchmarkCycle pushes b.N messages with P producers while P consumer
// goroutines receive and acknowledge them; it ends when the last is acked.
// The dedup variants push with PushWithID (a distinct ID per message).
func BenchmarkCycle(b *testing.B) {
	for _, bc := range []struct {
		p     int
		dedup bool
	}{{1, false}, {16, false}, {1, true}, {16, true}} {
		p := bc.p
		name := fmt.Sprintf("producers=%d,consumers=%d", p, p)
		if bc.dedup {
			name += ",dedup"
		}
		b.Run(name, func(b *testing.B) {
			q, err := Open[benchMsg](b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			c := q.Consumer("")
			b.SetBytes(100)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var acked atomic.Int64
			n := int64(b.N)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range p {
				wg.Go(func() {
					for {
						m, err := c.Receive(ctx)
						if err != nil {
							return
						}
						if err := m.Ack(); err != nil {
							b.Error(err)
							return
						}
						if acked.Add(1) == n {
							cancel()
						}
					}
				})
			}
			parallel(b, p, b.N, func(i int) error {
				if bc.dedup {
					_, _, err := q.PushWithID("msg-"+strconv.Itoa(i), newBenchMsg(i))
					return err
				}
				_, err := q.Push(newBenchMsg(i))
				return err
			})
			wg.Wait()
			if acked.Load() != n {
				b.Fatalf("acked %d of %d", acked.Load(), n)
			}
		})
	}
}
