// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/recordcodec"
)

// An Attacker reaches the nodes' raft ports directly (no proxy), with
// whatever its Dial gives it — plain TCP, or TLS with a certificate the
// cluster's CA did not sign — and tries what issue #14 found anyone could
// do: a forwarded apply, a forwarded addVoter, an AppendEntries with a
// term 1000 ahead carrying a write after the node's last log, and an
// InstallSnapshot of a forged state. It is given each node's last log
// index and term, as one who watched the traffic would know them.
type Attacker struct {
	Name string // "plain" or "other-ca", in values and logs
	// Dial opens a connection to a node's raft port, ready for the first
	// byte of miniraft's protocol ('R' raft, 'F' forwarded call).
	Dial func(addr string, timeout time.Duration) (net.Conn, error)

	mu       sync.Mutex
	values   []string // the values it tried to write
	accepted []string // what a node accepted
	n        int
}

// Target is a node as the attacker sees it.
type Target struct {
	ID        string
	Addr      string // raft address
	LastIndex uint64
	LastTerm  uint64
	Term      uint64
}

// EvilID is the voter the attacker tries to add.
const EvilID = "evil"

// Values returns the values the attacker tried to write.
func (a *Attacker) Values() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.values...)
}

// Accepted returns what the nodes accepted ("node: what").
func (a *Attacker) Accepted() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.accepted...)
}

func (a *Attacker) value() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	v := fmt.Sprintf("attack.%s.%d", a.Name, a.n)
	a.values = append(a.values, v)
	return v
}

func (a *Attacker) accept(t Target, what string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.accepted = append(a.accepted, t.ID+": "+what)
}

// Attack tries every forgery on t, writing to key. It returns how many
// attempts it made.
func (a *Attacker) Attack(t Target, key string) int {
	codec, _ := recordcodec.New[KV, Append](nil, nil)
	// Forwarded calls, as a follower sends them.
	apply, _ := codec.Encode([]Append{{Key: key, Val: a.value()}})
	for _, req := range []map[string]any{
		{"op": "apply", "data": json.RawMessage(apply)},
		{"op": "addVoter", "id": EvilID, "addr": "127.0.0.1:1"},
	} {
		if resp, err := a.forward(t.Addr, req); err == nil && resp.Code == "" {
			a.accept(t, fmt.Sprintf("forwarded %s (seq %d)", req["op"], resp.Seq))
		}
	}
	// Raft RPCs, as a leader of a later term sends them.
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: &attackStream{dial: a.Dial, closed: make(chan struct{})}, MaxPool: 1, Timeout: 5 * time.Second,
		Logger: hclog.NewNullLogger(),
	})
	defer trans.Close()
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(EvilID), Addr: []byte("127.0.0.1:1")}
	data, _ := codec.Encode([]Append{{Key: key, Val: a.value()}})
	ae := &raft.AppendEntriesRequest{
		RPCHeader: header, Term: t.Term + 1000,
		PrevLogEntry: t.LastIndex, PrevLogTerm: t.LastTerm,
		Entries:           []*raft.Log{{Index: t.LastIndex + 1, Term: t.Term + 1000, Type: raft.LogCommand, Data: data}},
		LeaderCommitIndex: t.LastIndex + 1,
	}
	var aer raft.AppendEntriesResponse
	if err := trans.AppendEntries(raft.ServerID(t.ID), raft.ServerAddress(t.Addr), ae, &aer); err == nil && aer.Success {
		a.accept(t, fmt.Sprintf("AppendEntries at term %d, index %d", ae.Term, t.LastIndex+1))
	}
	snap, _ := json.Marshal(map[string]any{"seq": t.LastIndex + 1000, "state": KV{Lists: map[string][]string{key: {a.value()}}}})
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(t.ID), Address: raft.ServerAddress(t.Addr)}, {Suffrage: raft.Voter, ID: EvilID, Address: "127.0.0.1:1"}}}
	is := &raft.InstallSnapshotRequest{
		RPCHeader: header, SnapshotVersion: 1, Term: t.Term + 1001,
		LastLogIndex: t.LastIndex + 1000, LastLogTerm: t.Term + 1001,
		Configuration: raft.EncodeConfiguration(conf), ConfigurationIndex: t.LastIndex + 1000,
		Size: int64(len(snap)),
	}
	var isr raft.InstallSnapshotResponse
	if err := trans.InstallSnapshot(raft.ServerID(t.ID), raft.ServerAddress(t.Addr), is, &isr, bytes.NewReader(snap)); err == nil && isr.Success {
		a.accept(t, fmt.Sprintf("InstallSnapshot at term %d, index %d", is.Term, is.LastLogIndex))
	}
	return 4
}

type forwardReply struct {
	Seq  uint64 `json:"seq"`
	Code string `json:"code"`
}

// forward sends one forwarded call and reads its answer.
func (a *Attacker) forward(addr string, req map[string]any) (forwardReply, error) {
	var resp forwardReply
	c, err := a.Dial(addr, 5*time.Second)
	if err != nil {
		return resp, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(append([]byte{'F'}, b...), '\n')); err != nil {
		return resp, err
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return resp, err
	}
	err = json.Unmarshal(line, &resp)
	return resp, err
}

// attackStream is the raft.StreamLayer of the attacker's transport: it
// dials only, prefixing the raft protocol byte.
type attackStream struct {
	dial   func(addr string, timeout time.Duration) (net.Conn, error)
	closed chan struct{}
	once   sync.Once
}

func (s *attackStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := s.dial(string(addr), timeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{'R'}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (s *attackStream) Accept() (net.Conn, error) {
	<-s.closed
	return nil, net.ErrClosed
}

func (s *attackStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *attackStream) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

var _ io.Closer = (*attackStream)(nil)
