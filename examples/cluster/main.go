// SPDX-License-Identifier: MIT OR Apache-2.0

// Command cluster runs a three-node miniraft cluster in one process, on
// 127.0.0.1 ports, with each node's raft log, vote and snapshots in its own
// directory, talking mutual TLS with certificates of the cluster's own CA
// (made in memory here; see the miniraft package documentation for making
// real ones): it applies mutations on the leader and through a follower, stops
// the leader to show another take over, restarts the old leader from its
// directory, and shows that every node holds the same state.
//
//	go run ./examples/cluster
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/testcert"
	"github.com/mini-go/mini/miniraft"
	"github.com/mini-go/mini/ministate"
)

// Accounts is the replicated state: balances by account name.
type Accounts struct {
	Balance map[string]int `json:"balance"`
}

// Deposit adds Amount to Account.
type Deposit struct {
	Account string `json:"account"`
	Amount  int    `json:"amount"`
}

func (d Deposit) Apply(a *Accounts) {
	if a.Balance == nil {
		a.Balance = map[string]int{}
	}
	a.Balance[d.Account] += d.Amount
}

// Withdraw takes Amount from Account, if the balance allows it.
type Withdraw struct {
	Account string `json:"account"`
	Amount  int    `json:"amount"`
}

func (w Withdraw) Apply(a *Accounts) { a.Balance[w.Account] -= w.Amount }

// Validate refuses a withdrawal the balance does not cover. It runs when
// the mutation's log is applied, on every node alike.
func (w Withdraw) Validate(a *Accounts) error {
	if have := a.Balance[w.Account]; have < w.Amount {
		return fmt.Errorf("%s has %d, cannot withdraw %d", w.Account, have, w.Amount)
	}
	return nil
}

type node = miniraft.Manager[Accounts, ministate.Mutator[Accounts]]

func main() {
	dir, err := os.MkdirTemp("", "mini-cluster-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := run(os.Stdout, dir); err != nil {
		log.Fatal(err)
	}
}

// cluster is the three nodes, by ID; a stopped node is nil.
type cluster struct {
	dir   string
	ca    *testcert.CA // the cluster's CA: it signs every node's certificate
	reg   *ministate.Registry[Accounts]
	nodes map[string]*node
}

func (c *cluster) start(id string, bootstrap bool) (*node, error) {
	conf := raft.DefaultConfig()
	// Fast elections for a demo on one machine, with room for TLS
	// handshakes on a loaded one.
	conf.HeartbeatTimeout = time.Second
	conf.ElectionTimeout = time.Second
	conf.LeaderLeaseTimeout = 500 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	// The node's certificate and the cluster's CA. A deployment loads them
	// from files: tls.LoadX509KeyPair, and x509.CertPool.AppendCertsFromPEM.
	tlsConf, err := c.ca.Config(id)
	if err != nil {
		return nil, err
	}
	m, err := miniraft.Open[Accounts, ministate.Mutator[Accounts]](filepath.Join(c.dir, id), &miniraft.Options{
		ID:        id,
		Bind:      "127.0.0.1:0", // a free port; the directory remembers it for restarts
		TLS:       tlsConf,       // mutual TLS between nodes
		Bootstrap: bootstrap,
		Forward:   true, // followers pass writes to the leader, which serves them
		Registry:  c.reg,
		Raft:      conf,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	c.nodes[id] = m
	return m, nil
}

// leader waits until a running node leads, and returns it.
func (c *cluster) leader() (*node, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range slices.Sorted(maps.Keys(c.nodes)) {
			if m := c.nodes[id]; m != nil && m.IsLeader() {
				return m, nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, errors.New("no leader after 10s")
}

// addVoter adds a node through the leader. Adding a node is idempotent, so
// a call whose outcome is unknown (leadership moved while the change was
// being committed, as it may on a loaded machine) is made again on
// whichever node leads then.
func (c *cluster) addVoter(id, addr string) error {
	var err error
	for range 3 {
		var l *node
		if l, err = c.leader(); err != nil {
			return err
		}
		err = l.AddVoter(id, addr)
		if !errors.Is(err, miniraft.ErrOutcomeUnknown) && !errors.Is(err, miniraft.ErrNotLeader) {
			return err
		}
	}
	return err
}

func (c *cluster) close() {
	for _, m := range c.nodes {
		if m != nil {
			m.Close()
		}
	}
}

func balances(a *Accounts) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(a.Balance)) {
		parts = append(parts, fmt.Sprintf("%s=%d", name, a.Balance[name]))
	}
	return strings.Join(parts, " ")
}

// run does the tour in dir, printing to out.
func run(out io.Writer, dir string) error {
	reg := ministate.NewRegistry[Accounts]()
	ministate.Register[Deposit](reg, "Deposit")
	ministate.Register[Withdraw](reg, "Withdraw")
	ca, err := testcert.NewCA("example cluster CA")
	if err != nil {
		return err
	}
	c := &cluster{dir: dir, ca: ca, reg: reg, nodes: map[string]*node{}}
	defer c.close()

	// 1. n1 starts a new cluster; the leader adds n2 and n3.
	n1, err := c.start("n1", true)
	if err != nil {
		return err
	}
	if _, err := c.leader(); err != nil {
		return err
	}
	for _, id := range []string{"n2", "n3"} {
		m, err := c.start(id, false)
		if err != nil {
			return err
		}
		if err := c.addVoter(id, m.Addr()); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "three nodes on %s, %s, %s; leader n1\n", c.nodes["n1"].Addr(), c.nodes["n2"].Addr(), c.nodes["n3"].Addr())

	// 2. Apply on the leader: Apply returns once a majority has the
	// mutation on disk and this node applied it.
	for _, m := range []ministate.Mutator[Accounts]{Deposit{"alice", 100}, Deposit{"bob", 50}} {
		seq, err := n1.Apply(m)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "n1 applied #%d %s%v\n", seq, strings.TrimPrefix(fmt.Sprintf("%T", m), "main."), m)
	}
	// Through a follower: it forwards to the leader.
	seq, err := c.nodes["n3"].Apply(Withdraw{"alice", 30})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "n3 forwarded #%d Withdraw{alice 30}\n", seq)
	// A refusal is decided where the log is applied: the same on all nodes.
	if _, err := c.nodes["n2"].Apply(Withdraw{"bob", 80}); errors.Is(err, ministate.ErrRefused) {
		fmt.Fprintf(out, "refused: %v\n", err)
	} else {
		return fmt.Errorf("overdraft: %v", err)
	}
	if err := c.nodes["n2"].ViewConsistent(func(a *Accounts) {
		fmt.Fprintf(out, "n2 reads (linearizable): %s\n", balances(a))
	}); err != nil {
		return err
	}

	// 3. Stop the leader. Close hands leadership over first; a crash would
	// cost an election timeout instead.
	if err := n1.Close(); err != nil {
		return err
	}
	c.nodes["n1"] = nil
	leader, err := c.leader()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "n1 stopped; new leader: %s\n", leader.ID())
	seq, err = leader.Apply(Deposit{"carol", 70})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s applied #%d Deposit{carol 70} with n1 down\n", leader.ID(), seq)

	// 4. Restart n1 from its directory: it comes back on its old address and
	// catches up from the new leader.
	n1, err = c.start("n1", false)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, m := range c.nodes {
		for m.Sequence() < seq {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not catch up: applied %d of %d", m.ID(), m.Sequence(), seq)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	fmt.Fprintf(out, "n1 restarted on %s and caught up to #%d\n", n1.Addr(), n1.Sequence())
	for _, id := range []string{"n1", "n2", "n3"} {
		c.nodes[id].View(func(a *Accounts) {
			fmt.Fprintf(out, "%s: %s\n", id, balances(a))
		})
	}
	// The raft log is a ministore journal: one JSON line per log, the
	// mutation readable in it.
	journal, err := os.ReadFile(filepath.Join(n1.Dir(), "raft.log"))
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(journal), "\x00\n"), "\n")
	fmt.Fprintf(out, "last line of n1/raft.log:\n%s\n", lines[len(lines)-1])
	return nil
}
