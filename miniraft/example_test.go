// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft_test

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/testcert"
	"github.com/mini-go/mini/miniraft"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

type Counter struct {
	Value int `json:"value"`
}

type Inc struct {
	By int `json:"by"`
}

func (i Inc) Apply(c *Counter) { c.Value += i.By }

// A single node is a cluster of one: it bootstraps, elects itself, and
// every Apply waits only for its own fsync. Add voters with AddVoter.
//
// Nodes talk mutual TLS: the node's certificate and the cluster's CA. Here
// they are made in memory; a deployment loads its files:
//
//	cert, err := tls.LoadX509KeyPair("n1.pem", "n1-key.pem")
//	pool := x509.NewCertPool()
//	pool.AppendCertsFromPEM(caPEM) // ca.pem
//	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}
//
// Concurrent Applies on the leader share raft logs (Options.ApplyGroup):
// each returns its own result, and calls of one log return its index.
// Options.Codec decodes the mutations with a faster JSON codec; the logs
// hold the same JSON as with encoding/json.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "miniraft-example-")
	defer os.RemoveAll(dir)
	ca, err := testcert.NewCA("example cluster CA")
	if err != nil {
		log.Fatal(err)
	}
	tlsConf, err := ca.Config("n1")
	if err != nil {
		log.Fatal(err)
	}

	conf := raft.DefaultConfig()
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	m, err := miniraft.Open[Counter, Inc](filepath.Join(dir, "n1"), &miniraft.Options{
		ID:        "n1",
		Bind:      "127.0.0.1:0",
		TLS:       tlsConf,
		Bootstrap: true,
		Raft:      conf,
		Codec:     jsonv2codec.New(),
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, _, err := m.WaitLeader(10 * time.Second); err != nil {
		log.Fatal(err)
	}
	before := m.Sequence()
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, err := m.Apply(Inc{By: 1}); err != nil {
				log.Fatal(err)
			}
		})
	}
	wg.Wait()
	m.View(func(c *Counter) { fmt.Println("value:", c.Value) })
	fmt.Println("fewer logs than calls:", m.Sequence()-before < 100)
	servers, _ := m.Servers()
	fmt.Println("members:", len(servers), "leader:", m.IsLeader())
	// Output:
	// value: 100
	// fewer logs than calls: true
	// members: 1 leader: true
}

func ExampleLogStore() {
	dir, _ := os.MkdirTemp("", "miniraft-example-")
	defer os.RemoveAll(dir)

	logs, err := miniraft.OpenLogStore(filepath.Join(dir, "raft.log"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer logs.Close()
	// One write and one fsync for the batch.
	err = logs.StoreLogs([]*raft.Log{
		{Index: 1, Term: 1, Data: []byte(`{"by":1}`)},
		{Index: 2, Term: 1, Data: []byte(`{"by":2}`)},
		{Index: 3, Term: 2, Data: []byte(`{"by":3}`)},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Compaction behind a snapshot at index 2.
	if err := logs.DeleteRange(1, 2); err != nil {
		log.Fatal(err)
	}
	first, _ := logs.FirstIndex()
	last, _ := logs.LastIndex()
	var l raft.Log
	if err := logs.GetLog(3, &l); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("logs %d..%d; log 3: term %d, %s\n", first, last, l.Term, l.Data)
	err = logs.GetLog(1, &l)
	fmt.Println("log 1:", errors.Is(err, raft.ErrLogNotFound))
	// Output:
	// logs 3..3; log 3: term 2, {"by":3}
	// log 1: true
}

func ExampleStableStore() {
	dir, _ := os.MkdirTemp("", "miniraft-example-")
	defer os.RemoveAll(dir)

	path := filepath.Join(dir, "stable.log")
	s, err := miniraft.OpenStableStore(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	s.SetUint64([]byte("CurrentTerm"), 7)
	s.Set([]byte("LastVoteCand"), []byte("n2"))
	s.Close()

	s, err = miniraft.OpenStableStore(path, nil) // as after a restart
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	term, _ := s.GetUint64([]byte("CurrentTerm"))
	vote, _ := s.Get([]byte("LastVoteCand"))
	_, err = s.Get([]byte("missing"))
	fmt.Println(term, string(vote), err)
	// Output:
	// 7 n2 not found
}
