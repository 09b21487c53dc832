// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mini-go/mini/miniqueue"
)

// A queueImpl is one queue under test: producers call push, consumers
// call recvAck, which returns once a message was received and its ack
// confirmed; interrupt makes blocked recvAck calls return.
type queueImpl struct {
	push      func(i int64) error
	recvAck   func(w int) error
	interrupt func()
	close     func() error
}

type queueSubject struct {
	name string
	role Role
	open func(dir string, workers, size int) (*queueImpl, error)
}

const (
	rowMiniqueue = "miniqueue"
	rowNATS      = "NATS JetStream (embedded)"
)

func queueSubjects() []queueSubject {
	return []queueSubject{
		{rowMiniqueue, Mini, openMiniqueue},
		{rowNATS, Peer, openNATS},
	}
}

func openMiniqueue(dir string, workers, size int) (*queueImpl, error) {
	q, err := miniqueue.Open[Rec](dir, &miniqueue.Options{Logger: quietLog})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	mk := recMaker(size)
	return &queueImpl{
		push: func(i int64) error { _, err := q.Push(mk(i)); return err },
		recvAck: func(int) error {
			m, err := q.Receive(ctx)
			if err != nil {
				return err
			}
			return m.Ack()
		},
		interrupt: cancel,
		close:     q.Close,
	}, nil
}

// openNATS starts a NATS server in this process, listening on 127.0.0.1
// (a random port), with JetStream file storage in dir and SyncAlways (the
// `sync: always` setting: fsync after every write). The clients connect to
// it in-process, the fastest way an embedding program can. Producers
// publish and wait for the PubAck (the message is stored); each consumer
// goroutine pulls from one durable consumer with explicit acks and waits
// for each ack's confirmation (DoubleAck).
func openNATS(dir string, workers, size int) (*queueImpl, error) {
	opts := &server.Options{
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: true,
		NoLog:      true,
		NoSigs:     true,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats: server not ready")
	}
	fail := func(err error) (*queueImpl, error) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, err
	}
	pubConn, err := nats.Connect(ns.ClientURL(), nats.InProcessServer(ns))
	if err != nil {
		return fail(err)
	}
	subConn, err := nats.Connect(ns.ClientURL(), nats.InProcessServer(ns))
	if err != nil {
		pubConn.Close()
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	closeAll := func() error {
		cancel()
		subConn.Close()
		pubConn.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil
	}
	pub, err := jetstream.New(pubConn)
	if err != nil {
		closeAll()
		return nil, err
	}
	sub, err := jetstream.New(subConn)
	if err != nil {
		closeAll()
		return nil, err
	}
	stream, err := pub.CreateStream(ctx, jetstream.StreamConfig{
		Name:     "BENCH",
		Subjects: []string{"bench"},
		Storage:  jetstream.FileStorage,
		Replicas: 1,
	})
	if err != nil {
		closeAll()
		return nil, err
	}
	if _, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   "bench",
		AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		closeAll()
		return nil, err
	}
	cons, err := sub.Consumer(ctx, "BENCH", "bench")
	if err != nil {
		closeAll()
		return nil, err
	}
	its := make([]jetstream.MessagesContext, workers)
	for w := range its {
		if its[w], err = cons.Messages(); err != nil {
			closeAll()
			return nil, err
		}
	}
	mk := recMaker(size)
	var stopOnce sync.Once
	interrupt := func() {
		stopOnce.Do(func() {
			for _, it := range its {
				it.Stop()
			}
		})
	}
	return &queueImpl{
		push: func(i int64) error {
			_, err := pub.Publish(ctx, "bench", encodeRec(mk(i)))
			return err
		},
		recvAck: func(w int) error {
			m, err := its[w].Next()
			if err != nil {
				return err
			}
			return m.DoubleAck(ctx)
		},
		interrupt: interrupt,
		close: func() error {
			interrupt()
			return closeAll()
		},
	}, nil
}

func queueCol(p int) string {
	if p == 1 {
		return "1 producer, 1 consumer"
	}
	return fmt.Sprintf("%d producers, %d consumers", p, p)
}

func runQueue(cfg *config) []*Table {
	t := &Table{
		ID:       "Queue",
		Title:    "Queue: push → receive → ack of 100 B messages, every step durable on return",
		Unit:     "messages/s",
		Mini:     rowMiniqueue,
		Headline: true,
		Note: "Producers push and consumers receive and acknowledge at the same time; the figure is messages acknowledged per second. " +
			"miniqueue fsyncs three records per message (the push, the delivery count, the ack), each shared between concurrent callers, before the call returns. " +
			"NATS runs in this process (JetStream file storage, SyncAlways, one replica); the clients connect to it in-process. " +
			"Its Publish returns after the message is stored and synced; its consumers pull with explicit acks and wait for each ack's confirmation, " +
			"but NATS writes a consumer's acks and deliveries to disk at most about 10 times a second, not before confirming them, " +
			"so after a crash it can deliver again messages whose ack it had confirmed, which miniqueue does not.",
	}
	subjects := queueSubjects()
	for _, p := range cfg.queueWorkers {
		for round := range cfg.runs {
			line := fmt.Sprintf("  queue, %s, run %d/%d:", queueCol(p), round+1, cfg.runs)
			for _, s := range Rotate(subjects, round) {
				v, err := queueOnce(cfg, s, p)
				if err != nil {
					cfg.problem("queue, %s, %s: %v", queueCol(p), s.name, err)
					continue
				}
				t.Add(s.name, s.role, queueCol(p), v)
				line += fmt.Sprintf(" %s %s;", s.name, FormatValue(v))
			}
			cfg.progress(line)
		}
	}
	cfg.emit(t)
	return []*Table{t}
}

// queueOnce runs p producers and p consumers and returns acknowledged
// messages per second, counted like measure counts operations.
func queueOnce(cfg *config, s queueSubject, p int) (float64, error) {
	dir, err := freshDir(cfg.dir, "queue")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	q, err := s.open(dir, p, 100)
	if err != nil {
		return 0, err
	}
	var (
		seq, acked atomic.Int64
		stop       atomic.Bool
		errMu      sync.Mutex
		firstErr   error
		prod, cons sync.WaitGroup
	)
	setErr := func(err error) {
		if stop.Load() {
			return
		}
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	for range p {
		prod.Go(func() {
			for !stop.Load() {
				i := seq.Add(1)
				if cfg.maxOps > 0 && i > cfg.maxOps {
					return
				}
				if err := q.push(i); err != nil {
					setErr(err)
					return
				}
			}
		})
	}
	allAcked := make(chan struct{})
	for w := range p {
		cons.Go(func() {
			for !stop.Load() {
				if err := q.recvAck(w); err != nil {
					setErr(err)
					return
				}
				if acked.Add(1) == cfg.maxOps {
					close(allAcked)
				}
			}
		})
	}
	var n int64
	var elapsed time.Duration
	start := time.Now()
	if cfg.maxOps > 0 {
		select {
		case <-allAcked:
		case <-time.After(cfg.dur + 5*time.Second):
		}
		n, elapsed = acked.Load(), time.Since(start)
	} else {
		time.Sleep(cfg.warm)
		c0, t0 := acked.Load(), time.Now()
		time.Sleep(cfg.dur)
		n, elapsed = acked.Load()-c0, time.Since(t0)
	}
	stop.Store(true)
	prod.Wait()
	q.interrupt()
	cons.Wait()
	if err := q.close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return 0, firstErr
	}
	if n == 0 {
		return 0, errors.New("no message acknowledged")
	}
	return float64(n) / elapsed.Seconds(), nil
}
