// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/miniraft"
	"github.com/mini-go/mini/vfs"
)

// NodeConfig is what a node process is started with (as JSON in the
// environment variable EnvNode).
type NodeConfig struct {
	ID        string
	Dir       string
	Bootstrap bool
	// Links maps each peer's raft address to the proxy this node must
	// dial instead (Mesh.Links).
	Links map[string]string
	// MemDisk runs the node on an in-memory disk loaded from Dir, so that
	// the "powerloss" request can drop what was not fsync'd.
	MemDisk bool
	Seed    uint64
	// CA, Cert and Key (PEM) are the cluster's CA and this node's
	// certificate and key: the node then runs mutual TLS (Options.TLS).
	// Without them it runs on plain TCP (Options.InsecureNoTLS).
	CA, Cert, Key []byte
	// Bug plants a bug in the node, to show the checks catch it:
	// "stale-read" serves reads from this node's state without
	// ViewConsistent; "fake-ack" acknowledges every 10th append without
	// applying it; "no-dedup" applies appends without their request ID,
	// so a retry applies them again.
	Bug string
}

// EnvNode names the environment variable that makes a test binary run a
// node (see NodeMain).
const EnvNode = "MINI_FAULTS_NODE"

// The timeouts of a node: generous, for a slow, shared machine.
const (
	heartbeatTimeout = 1500 * time.Millisecond
	applyTimeout     = 4 * time.Second
)

// NodeMain runs a node if the environment says so, and exits; otherwise
// it returns. Call it first in TestMain.
func NodeMain() {
	env := os.Getenv(EnvNode)
	if env == "" {
		return
	}
	var cfg NodeConfig
	if err := json.Unmarshal([]byte(env), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "faults node:", err)
		os.Exit(3)
	}
	// runNode serves until its listener fails: it only returns an error.
	err := runNode(cfg)
	fmt.Fprintf(os.Stderr, "faults node %s: %v\n", cfg.ID, err)
	os.Exit(1)
}

// A Request is one line a client sends to a node; the node answers each
// with one Response line, in order.
type Request struct {
	Op    string            `json:"op"` // append, read, state, status, links, addVoter, remove, transfer, powerloss
	Key   string            `json:"key,omitempty"`
	Val   string            `json:"val,omitempty"`
	ID    string            `json:"id,omitempty"` // addVoter, remove, transfer: the node; append: a request ID (ApplyWithID)
	Addr  string            `json:"addr,omitempty"`
	Links map[string]string `json:"links,omitempty"`
}

// A Response answers a Request.
type Response struct {
	OK  bool   `json:"ok"`
	Err string `json:"err,omitempty"`
	// Class classifies a failed append as the library's documentation
	// does: ClassUnknown or ClassNotApplied (see classify).
	Class    string   `json:"class,omitempty"`
	Seq      uint64   `json:"seq,omitempty"`
	Dup      bool     `json:"dup,omitempty"` // append with an ID: an earlier request with it decided
	Vals     []string `json:"vals,omitempty"`
	State    *KV      `json:"state,omitempty"`
	Leader   bool     `json:"leader,omitempty"`
	LeaderID string   `json:"leaderID,omitempty"`
	Servers  []string `json:"servers,omitempty"`
	// Raft's view (status): the last log's index and term, the current term.
	LastIndex uint64 `json:"lastIndex,omitempty"`
	LastTerm  uint64 `json:"lastTerm,omitempty"`
	Term      uint64 `json:"term,omitempty"`
	// InFlight is the number of client appends and reads the node is
	// still working on (status), answered or not: one whose client gave up
	// may still be applied.
	InFlight int `json:"inFlight,omitempty"`
}

type node struct {
	cfg  NodeConfig
	m    *miniraft.Manager[KV, Append]
	disk *vfs.Faulty // with MemDisk

	mu    sync.Mutex
	links map[string]string
	fakes int // appends seen, for Bug "fake-ack"

	inFlight atomic.Int64
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x666175)) }

func runNode(cfg NodeConfig) error {
	n := &node{cfg: cfg, links: cfg.Links}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conf := raft.DefaultConfig()
	conf.HeartbeatTimeout = heartbeatTimeout
	conf.ElectionTimeout = heartbeatTimeout
	conf.LeaderLeaseTimeout = heartbeatTimeout / 2
	conf.SnapshotThreshold = 256
	conf.SnapshotInterval = 2 * time.Second
	conf.TrailingLogs = 128
	o := &miniraft.Options{
		ID:            cfg.ID,
		Bind:          "127.0.0.1:0",
		Bootstrap:     cfg.Bootstrap,
		Forward:       true,
		InsecureNoTLS: len(cfg.CA) == 0, // a run without certificates asks for plain TCP by name
		Dial:          n.dial,
		Raft:          conf,
		ApplyTimeout:  applyTimeout,
		Logger:        log,
	}
	if !o.InsecureNoTLS {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return err
		}
		o.TLS = tc
	}
	if cfg.MemDisk {
		disk, err := loadMemDisk(cfg.Dir)
		if err != nil {
			return err
		}
		n.disk, o.FS = disk, disk
	}
	m, err := miniraft.Open[KV, Append](cfg.Dir, o)
	if err != nil {
		return err
	}
	n.m = m
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("ready %s %s\n", ln.Addr(), m.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go n.serve(c)
	}
}

// tlsConfig is the node's certificate, with the cluster's CA as the only
// root.
func tlsConfig(cfg NodeConfig) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(cfg.Cert, cfg.Key)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.CA) {
		return nil, errors.New("faults: no certificate in NodeConfig.CA")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}, nil
}

// dial reaches a peer through the proxy of the link to it, never directly.
func (n *node) dial(ctx context.Context, addr string) (net.Conn, error) {
	n.mu.Lock()
	p, ok := n.links[addr]
	n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("faults: node %s has no link to %s", n.cfg.ID, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", p)
}

func (n *node) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	enc := json.NewEncoder(c)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req Request
		if err := json.Unmarshal(line, &req); err != nil {
			return
		}
		resp := n.handle(req)
		if err := enc.Encode(resp); err != nil {
			return
		}
		if req.Op == "powerloss" && resp.OK {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}

func (n *node) handle(req Request) Response {
	m := n.m
	if req.Op == "append" || req.Op == "read" {
		n.inFlight.Add(1)
		defer n.inFlight.Add(-1)
	}
	fail := func(err error) Response { return Response{Err: err.Error(), Class: classify(err)} }
	switch req.Op {
	case "append":
		if n.cfg.Bug == "fake-ack" {
			n.mu.Lock()
			n.fakes++
			fake := n.fakes%10 == 0
			n.mu.Unlock()
			if fake {
				return Response{OK: true, Seq: m.Sequence()}
			}
		}
		if req.ID != "" && n.cfg.Bug != "no-dedup" { // a request ID: safe to retry
			seq, dup, err := m.ApplyWithID(req.ID, Append{Key: req.Key, Val: req.Val})
			if err != nil {
				return fail(err)
			}
			return Response{OK: true, Seq: seq, Dup: dup}
		}
		seq, err := m.Apply(Append{Key: req.Key, Val: req.Val})
		if err != nil {
			return fail(err)
		}
		return Response{OK: true, Seq: seq}
	case "read":
		var vals []string
		view := func(s *KV) { vals = slices.Clone(s.Lists[req.Key]) }
		if n.cfg.Bug == "stale-read" {
			m.View(view)
			return Response{OK: true, Vals: vals}
		}
		err := m.ViewConsistent(view)
		if err != nil {
			return fail(err)
		}
		return Response{OK: true, Vals: vals}
	case "state":
		st, err := m.Copy()
		if err != nil {
			return fail(err)
		}
		return Response{OK: true, State: &st, Seq: m.Sequence()}
	case "status":
		id, _ := m.Leader()
		resp := Response{OK: true, Leader: m.IsLeader(), LeaderID: id, Seq: m.Sequence()}
		stats := m.Raft().Stats()
		resp.LastIndex, _ = strconv.ParseUint(stats["last_log_index"], 10, 64)
		resp.LastTerm, _ = strconv.ParseUint(stats["last_log_term"], 10, 64)
		resp.Term, _ = strconv.ParseUint(stats["term"], 10, 64)
		resp.InFlight = int(n.inFlight.Load())
		if servers, err := m.Servers(); err == nil {
			for _, s := range servers {
				resp.Servers = append(resp.Servers, s.ID)
			}
		}
		return resp
	case "links":
		n.mu.Lock()
		n.links = req.Links
		n.mu.Unlock()
		return Response{OK: true}
	case "addVoter":
		if err := m.AddVoter(req.ID, req.Addr); err != nil {
			return fail(err)
		}
		return Response{OK: true}
	case "remove":
		if err := m.RemoveServer(req.ID); err != nil {
			return fail(err)
		}
		return Response{OK: true}
	case "transfer":
		f := m.Raft().LeadershipTransferToServer(raft.ServerID(req.ID), raft.ServerAddress(req.Addr))
		if err := f.Error(); err != nil {
			return fail(err)
		}
		return Response{OK: true}
	case "powerloss":
		if n.disk == nil {
			return fail(errors.New("not on a memory disk"))
		}
		if err := powerLoss(n.disk, n.cfg.Dir, n.cfg.Seed, 0.5); err != nil {
			return fail(err)
		}
		return Response{OK: true}
	}
	return fail(fmt.Errorf("unknown op %q", req.Op))
}
