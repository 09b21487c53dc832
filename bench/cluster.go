// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"

	"github.com/mini-go/mini/internal/testcert"
	"github.com/mini-go/mini/miniraft"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

// The cluster section measures replicated Apply: three nodes of one
// cluster in this process, each with its own directory on the disk under
// test and a TCP listener on 127.0.0.1, and 1 or 64 clients applying
// commands on the leader, each Apply returning once the command is
// committed (fsync'd on a majority) and applied on the leader. Every
// subject runs the same state machine work: a map of counters changed by
// JSON commands {"key":"k17","delta":1}, decoded with encoding/json.

const (
	rowClusterMini      = "miniraft"
	rowClusterMiniNoTLS = "miniraft, no TLS"
	rowClusterMiniV2    = "miniraft, jsonv2codec"
	rowClusterMiniSolo  = "miniraft, ungrouped"
	rowClusterWAL       = "hashicorp/raft + raft-wal"
	rowClusterBolt      = "hashicorp/raft + raft-boltdb/v2"
)

// counters is the state of every subject.
type counters struct {
	M map[string]int64 `json:"m"`
}

// incr is the command: add Delta to the counter Key.
type incr struct {
	Key   string `json:"key"`
	Delta int64  `json:"delta"`
}

// Apply makes incr a miniraft mutation of counters.
func (c incr) Apply(s *counters) {
	if s.M == nil {
		s.M = map[string]int64{}
	}
	s.M[c.Key] += c.Delta
}

// command returns the command of operation i.
func command(i int64) incr { return incr{Key: "k" + strconv.FormatInt(i%1000, 10), Delta: 1} }

// A cluster is three running nodes of one subject.
type cluster struct {
	apply func(i int64) error // on the leader
	close func() error
}

type clusterSubject struct {
	name string
	role Role
	open func(dir string, smoke bool) (*cluster, error)
}

func clusterSubjects() []clusterSubject {
	return []clusterSubject{
		{rowClusterMini, Mini, func(dir string, smoke bool) (*cluster, error) { return openMiniraft(dir, true, smoke, nil) }},
		{rowClusterMiniNoTLS, Mini, func(dir string, smoke bool) (*cluster, error) { return openMiniraft(dir, false, smoke, nil) }},
		{rowClusterMiniV2, Mini, func(dir string, smoke bool) (*cluster, error) {
			return openMiniraft(dir, true, smoke, func(o *miniraft.Options) { o.Codec = jsonv2codec.New() })
		}},
		{rowClusterMiniSolo, Mini, func(dir string, smoke bool) (*cluster, error) {
			return openMiniraft(dir, true, smoke, func(o *miniraft.Options) { o.ApplyGroup = -1 })
		}},
		{rowClusterWAL, Peer, func(dir string, smoke bool) (*cluster, error) { return openHashicorp(dir, openWALStore, smoke) }},
		{rowClusterBolt, Peer, func(dir string, smoke bool) (*cluster, error) { return openHashicorp(dir, openBoltStore, smoke) }},
	}
}

// clusterRaftConfig is raft's configuration for every subject: the
// defaults, with elections slow enough (1 s) that a loaded machine does
// not start one in the middle of a run; in the smoke run, whose figures
// mean nothing, fast ones, so that the clusters start sooner.
func clusterRaftConfig(id string, smoke bool) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(id)
	c.HeartbeatTimeout = time.Second
	c.ElectionTimeout = time.Second
	c.LeaderLeaseTimeout = 500 * time.Millisecond
	if smoke {
		c.HeartbeatTimeout = 200 * time.Millisecond
		c.ElectionTimeout = 200 * time.Millisecond
		c.LeaderLeaseTimeout = 100 * time.Millisecond
	}
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Error, Output: io.Discard})
	return c
}

const clusterNodes = 3

var clusterCA = sync.OnceValues(func() (*testcert.CA, error) { return testcert.NewCA("mini bench cluster CA") })

// openMiniraft starts a miniraft cluster with its defaults, TLS or not,
// and what opt changes.
func openMiniraft(dir string, withTLS, smoke bool, opt func(*miniraft.Options)) (*cluster, error) {
	var ca *testcert.CA
	if withTLS {
		var err error
		if ca, err = clusterCA(); err != nil {
			return nil, err
		}
	}
	quiet := slog.New(slog.DiscardHandler)
	// The nodes listen on free ports first; the bootstrap configuration
	// needs every address, so they are opened in two steps: bind, learn
	// the addresses, close, then start all with Bootstrap and Peers (a
	// restart from the directory keeps its port).
	opts := make([]miniraft.Options, clusterNodes)
	dirs := make([]string, clusterNodes)
	for i := range clusterNodes {
		id := "n" + strconv.Itoa(i+1)
		dirs[i] = filepath.Join(dir, id)
		o := miniraft.Options{ID: id, Bind: "127.0.0.1:0", Logger: quiet, Raft: clusterRaftConfig(id, smoke)}
		if withTLS {
			conf, err := ca.Config(id)
			if err != nil {
				return nil, err
			}
			o.TLS = conf
		} else {
			o.InsecureNoTLS = true
		}
		if opt != nil {
			opt(&o)
		}
		opts[i] = o
	}
	var peers []miniraft.Peer
	for i := range clusterNodes {
		m, err := miniraft.Open[counters, incr](dirs[i], &opts[i])
		if err != nil {
			return nil, err
		}
		peers = append(peers, miniraft.Peer{ID: opts[i].ID, Addr: m.Addr()})
		if err := m.Close(); err != nil {
			return nil, err
		}
	}
	nodes := make([]*miniraft.Manager[counters, incr], clusterNodes)
	closeAll := func() error {
		var errs []error
		for _, m := range nodes {
			if m != nil {
				errs = append(errs, m.Close())
			}
		}
		return errors.Join(errs...)
	}
	for i := range clusterNodes {
		o := opts[i]
		o.Bootstrap, o.Peers = true, peers
		m, err := miniraft.Open[counters, incr](dirs[i], &o)
		if err != nil {
			closeAll()
			return nil, err
		}
		nodes[i] = m
	}
	leader, err := waitLeader(func(i int) bool { return nodes[i].IsLeader() })
	if err != nil {
		closeAll()
		return nil, err
	}
	m := nodes[leader]
	return &cluster{
		apply: func(i int64) error {
			_, err := m.Apply(command(i))
			return err
		},
		close: closeAll,
	}, nil
}

// waitLeader waits up to 20 s for one of the nodes to lead, and returns it.
func waitLeader(isLeader func(i int) bool) (int, error) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i := range clusterNodes {
			if isLeader(i) {
				return i, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, errors.New("no leader after 20 s")
}

// counterFSM is the raft.FSM of the hashicorp/raft subjects: the same
// state and commands as miniraft's, decoded with encoding/json.
type counterFSM struct {
	mu    sync.Mutex
	state counters
}

func (f *counterFSM) Apply(l *raft.Log) any {
	var c incr
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return err
	}
	f.mu.Lock()
	c.Apply(&f.state)
	f.mu.Unlock()
	return nil
}

func (f *counterFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(&f.state)
	if err != nil {
		return nil, err
	}
	return fsmSnapshot(b), nil
}

func (f *counterFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s counters
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return err
	}
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	return nil
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (fsmSnapshot) Release() {}

// raftStore is a log store that is also the stable store, as raft-wal and
// raft-boltdb are.
type raftStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

func openWALStore(dir string) (raftStore, error) { return raftwal.Open(dir) }
func openBoltStore(dir string) (raftStore, error) {
	return raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
}

// openHashicorp starts a hashicorp/raft cluster with the plain TCP
// NetworkTransport, each node's log and stable store opened by openStore
// in its directory, and raft's file snapshot store.
func openHashicorp(dir string, openStore func(dir string) (raftStore, error), smoke bool) (*cluster, error) {
	type node struct {
		raft  *raft.Raft
		store raftStore
		trans *raft.NetworkTransport
	}
	nodes := make([]*node, clusterNodes)
	closeAll := func() error {
		var errs []error
		for _, n := range nodes {
			if n == nil {
				continue
			}
			if n.raft != nil {
				errs = append(errs, n.raft.Shutdown().Error())
			}
			errs = append(errs, n.trans.Close(), n.store.Close())
		}
		return errors.Join(errs...)
	}
	var conf raft.Configuration
	for i := range clusterNodes {
		id := "n" + strconv.Itoa(i+1)
		d := filepath.Join(dir, id)
		if err := os.MkdirAll(d, 0o755); err != nil {
			closeAll()
			return nil, err
		}
		st, err := openStore(d)
		if err != nil {
			closeAll()
			return nil, err
		}
		trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard)
		if err != nil {
			st.Close()
			closeAll()
			return nil, err
		}
		nodes[i] = &node{store: st, trans: trans}
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: trans.LocalAddr()})
	}
	fsms := make([]*counterFSM, clusterNodes)
	for i, n := range nodes {
		id := "n" + strconv.Itoa(i+1)
		c := clusterRaftConfig(id, smoke)
		snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, id), 2, io.Discard)
		if err != nil {
			closeAll()
			return nil, err
		}
		if err := raft.BootstrapCluster(c, n.store, n.store, snaps, n.trans, conf); err != nil {
			closeAll()
			return nil, err
		}
		fsms[i] = &counterFSM{}
		if n.raft, err = raft.NewRaft(c, fsms[i], n.store, n.store, snaps, n.trans); err != nil {
			closeAll()
			return nil, err
		}
	}
	leader, err := waitLeader(func(i int) bool { return nodes[i].raft.State() == raft.Leader })
	if err != nil {
		closeAll()
		return nil, err
	}
	r := nodes[leader].raft
	return &cluster{
		apply: func(i int64) error {
			data, err := json.Marshal(command(i))
			if err != nil {
				return err
			}
			f := r.Apply(data, 10*time.Second)
			if err := f.Error(); err != nil {
				return err
			}
			if err, ok := f.Response().(error); ok {
				return err
			}
			return nil
		},
		close: closeAll,
	}, nil
}

func clusterCol(clients int) string {
	if clients == 1 {
		return "1 client"
	}
	return fmt.Sprintf("%d clients", clients)
}

func runCluster(cfg *config) []*Table {
	t := &Table{
		ID:       "Raft cluster",
		Title:    "Replicated Apply: 3 nodes on 127.0.0.1, clients applying on the leader",
		Unit:     "applies/s",
		Mini:     rowClusterMini,
		Headline: true,
		Note: "Three nodes of one cluster in this process, each with its own folder on the disk under test, talking over TCP on 127.0.0.1; " +
			"the clients call Apply on the leader, which returns once the command is fsync'd on a majority and applied on the leader. " +
			"The state machine is the same for all: a map of 1,000 counters changed by JSON commands {\"key\":\"k17\",\"delta\":1} decoded with encoding/json. " +
			"Raft's configuration is hashicorp/raft's default with 1 s heartbeat and election timeouts for all. " +
			"miniraft runs with its defaults, mutual TLS between the nodes included (certificates from a CA made for the run), and so groups concurrent Applies into one raft log (Options.ApplyGroup); \"no TLS\" is Options.InsecureNoTLS, to show TLS's cost; \"jsonv2codec\" is the default with Options.Codec = ministore/jsonv2codec, which decodes the same JSON commands faster; \"ungrouped\" is the default with Options.ApplyGroup = -1, every Apply in a raft log of its own, to show what grouping gives. " +
			"The hashicorp/raft rows use the plain TCP NetworkTransport (no TLS), raft's file snapshot store, and raft-wal or raft-boltdb/v2 with their defaults as both log and stable store. " +
			"A fresh cluster per subject and run; 1 client then 64 on it. " +
			"With one client a hashicorp/raft Apply waits for two fsyncs one after the other (the leader's, then a follower's: raft stores a log before it replicates it), whatever the store; miniraft's leader fsyncs its copy while it replicates it, and no node applies a log before its own copy is durable, so one client waits for about the longer of the two (all three nodes share one disk here, so the overlapping fsyncs slow each other). With 64 clients what one log and one fsync carry makes the difference.",
	}
	subjects := clusterSubjects()
	for round := range cfg.runs {
		line := fmt.Sprintf("  cluster, run %d/%d:", round+1, cfg.runs)
		for _, s := range Rotate(subjects, round) {
			res, err := clusterOnce(cfg, s)
			if err != nil {
				cfg.problem("cluster, %s: %v", s.name, err)
				continue
			}
			for _, n := range cfg.clusterClients {
				t.Add(s.name, s.role, clusterCol(n), res[n])
				line += fmt.Sprintf(" %s %s %s;", s.name, clusterCol(n), FormatValue(res[n]))
			}
		}
		cfg.progress(line)
	}
	t.Note += peerRatios(t)
	cfg.emit(t)
	return []*Table{t}
}

// peerRatios returns a sentence with the mini row's median over each
// peer's, per column (the table's ratio row names only the best peer).
func peerRatios(t *Table) string {
	var out string
	for _, r := range t.Rows {
		if r.Role != Peer {
			continue
		}
		var cells []string
		for _, c := range t.Cols {
			m, ok1 := t.Median(t.Mini, c)
			p, ok2 := t.Median(r.Name, c)
			if ok1 && ok2 {
				cells = append(cells, c+" "+FormatRatio(div(m, p)))
			}
		}
		if len(cells) > 0 {
			out += fmt.Sprintf(" %s / %s: %s.", t.Mini, r.Name, strings.Join(cells, ", "))
		}
	}
	return out
}

// clusterOnce starts a cluster of s and measures each client count on it.
func clusterOnce(cfg *config, s clusterSubject) (map[int]float64, error) {
	dir, err := freshDir(cfg.dir, "cluster")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	c, err := s.open(dir, cfg.mode == "smoke")
	if err != nil {
		return nil, err
	}
	res := map[int]float64{}
	for _, n := range cfg.clusterClients {
		v, err := measure(cfg, n, func(_ int, i int64) error { return c.apply(i) })
		if err != nil {
			c.close()
			return nil, fmt.Errorf("%s: %w", clusterCol(n), err)
		}
		res[n] = v
	}
	if err := c.close(); err != nil {
		return nil, err
	}
	return res, nil
}
