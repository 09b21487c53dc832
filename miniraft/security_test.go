// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/testcert"
)

// An attacker reaches a node's port without a certificate of the cluster's
// CA: with plain TCP, or with TLS and a certificate of another CA. It
// speaks the node's protocols exactly: a forwarded call is 'F' and one
// JSON line; raft's RPCs are 'R' and hashicorp/raft's NetworkTransport
// protocol, which it drives with raft.NewNetworkTransportWithConfig.
type attacker struct {
	tls *tls.Config // nil: plain TCP
}

func (a attacker) dial(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil || a.tls == nil {
		return c, err
	}
	tc := tls.Client(c, a.tls)
	c.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return tc, nil
}

// forward sends one forwarded call and returns the answer line, or the
// error that ended the connection.
func (a attacker) forward(addr, line string) (string, error) {
	c, err := a.dial(addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("F" + line + "\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// transport returns a raft transport that dials as the attacker.
func (a attacker) transport(t *testing.T) *raft.NetworkTransport {
	s := &attackStream{a: a, closed: make(chan struct{})}
	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: s, MaxPool: 1, Timeout: 3 * time.Second, Logger: hclog.NewNullLogger(),
	})
	t.Cleanup(func() { tr.Close() })
	return tr
}

// attackStream is the attacker's raft.StreamLayer: it only dials.
type attackStream struct {
	a      attacker
	closed chan struct{}
}

func (s *attackStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := s.a.dial(string(addr), timeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{protoRaft}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (s *attackStream) Accept() (net.Conn, error) { <-s.closed; return nil, net.ErrClosed }
func (s *attackStream) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	return nil
}
func (s *attackStream) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// TestAttacker runs the attacks on a cluster with TLS, where every one must
// fail, and, as the control that shows the attacks are real, on a cluster
// started with InsecureNoTLS, where every one succeeds. The attacks: a
// forwarded apply and a forwarded addVoter to the leader, a forged
// AppendEntries (a term 1000 higher, one entry after the follower's last)
// to one follower and a forged InstallSnapshot to the other.
func TestAttacker(t *testing.T) {
	evilTLS := testcert.Must(otherCA.Config("n9"))
	evilTLS.InsecureSkipVerify = true // the attacker does not care who answers
	// Present the certificate whatever CAs the node asks for (Go's client
	// would otherwise send none).
	evilCert := evilTLS.Certificates[0]
	evilTLS.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &evilCert, nil }
	for _, tc := range []struct {
		name     string
		insecure bool // the cluster runs without TLS
		a        attacker
	}{
		{"insecure cluster, plain TCP (control)", true, attacker{}},
		{"TLS cluster, plain TCP", false, attacker{}},
		{"TLS cluster, certificate of another CA", false, attacker{tls: evilTLS}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 3, func(o *Options) {
				o.Forward = true
				if tc.insecure {
					o.TLS, o.InsecureNoTLS = nil, true
				}
			})
			leader := c.leader()
			seq, err := leader.Apply(add{ID: 1})
			if err != nil {
				t.Fatal(err)
			}
			c.converge(map[int]uint64{1: seq})
			followers := c.followers(leader)
			accepted := map[string]bool{}

			// A forwarded apply to the leader.
			line, err := tc.a.forward(leader.Addr(), `{"op":"apply","data":{"id":666}}`)
			t.Logf("forwarded apply: %q, %v", line, err)
			if err == nil && strings.Contains(line, `"seq"`) {
				accepted["apply"] = true
			}
			// A forwarded addVoter.
			line, err = tc.a.forward(leader.Addr(), `{"op":"addVoter","id":"evil","addr":"127.0.0.1:1"}`)
			t.Logf("forwarded addVoter: %q, %v", line, err)
			if servers, _ := leader.Servers(); slices.ContainsFunc(servers, func(p Peer) bool { return p.ID == "evil" }) {
				accepted["addVoter"] = true
			}

			// A forged AppendEntries to a follower.
			f := followers[0]
			term, last := f.raft.CurrentTerm(), f.raft.LastIndex()
			var lastLog raft.Log
			if err := f.logs.GetLog(last, &lastLog); err != nil {
				t.Fatal(err)
			}
			trans := tc.a.transport(t)
			header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("evil"), Addr: []byte("127.0.0.1:1")}
			var aeResp raft.AppendEntriesResponse
			err = trans.AppendEntries(raft.ServerID(f.ID()), raft.ServerAddress(f.Addr()), &raft.AppendEntriesRequest{
				RPCHeader:         header,
				Term:              term + 1000,
				PrevLogEntry:      last,
				PrevLogTerm:       lastLog.Term,
				Entries:           []*raft.Log{{Index: last + 1, Term: term + 1000, Type: raft.LogCommand, Data: []byte(`{"id":777}`)}},
				LeaderCommitIndex: last + 1,
			}, &aeResp)
			t.Logf("AppendEntries: %+v, %v", aeResp, err)
			if err == nil && aeResp.Success {
				accepted["AppendEntries"] = true
			}
			if f.raft.CurrentTerm() >= term+1000 {
				accepted["AppendEntries term"] = true
			}

			// A forged InstallSnapshot to the other follower.
			g := followers[1]
			term = g.raft.CurrentTerm()
			conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: "evil", Address: "127.0.0.1:1"}}}
			state := fmt.Appendf(nil, `{"seq":%d,"state":{"ids":[888],"sum":888}}`+"\n", g.Sequence()+1000)
			var isResp raft.InstallSnapshotResponse
			err = trans.InstallSnapshot(raft.ServerID(g.ID()), raft.ServerAddress(g.Addr()), &raft.InstallSnapshotRequest{
				RPCHeader:          header,
				SnapshotVersion:    1,
				Term:               term + 1000,
				LastLogIndex:       g.Sequence() + 1000,
				LastLogTerm:        term + 1000,
				Configuration:      raft.EncodeConfiguration(conf),
				ConfigurationIndex: g.Sequence() + 1000,
				Size:               int64(len(state)),
			}, &isResp, strings.NewReader(string(state)))
			t.Logf("InstallSnapshot: %+v, %v", isResp, err)
			if err == nil && isResp.Success {
				accepted["InstallSnapshot"] = true
			}

			if tc.insecure {
				// The control: every attack works on a cluster without TLS.
				for _, what := range []string{"apply", "addVoter", "AppendEntries", "AppendEntries term", "InstallSnapshot"} {
					if !accepted[what] {
						t.Errorf("control: the attacker's %s did not succeed on the insecure cluster: the test proves nothing", what)
					}
				}
				return
			}
			if len(accepted) > 0 {
				t.Fatalf("the attacker succeeded: %v", accepted)
			}
			// Nothing of the attacker's is anywhere: the cluster goes on
			// with its own term and state.
			seq2, err := c.leader().Apply(add{ID: 2})
			if err != nil {
				t.Fatal(err)
			}
			c.convergeTo(map[int]uint64{1: seq, 2: seq2}, 1, 2)
		})
	}
}

// A node without Options.Forward serves no forwarded call, even from a
// member of the cluster: a follower that forwards gets ErrForwardOff (not
// applied), and so does a raw call with a cluster certificate.
func TestForwardOffRefusesForwardedCalls(t *testing.T) {
	c := newCluster(t, 3, func(o *Options) { o.Forward = o.ID != "n1" })
	leader := c.leader()
	if leader.ID() != "n1" {
		t.Skipf("%s leads, not n1", leader.ID())
	}
	seq, err := leader.Apply(add{ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.nodes["n2"].Apply(add{ID: 2})
	if !errors.Is(err, ErrForwardOff) {
		t.Fatalf("forwarded apply to a leader without Forward: %v, want ErrForwardOff", err)
	}
	if err := c.nodes["n2"].AddVoter("evil", "127.0.0.1:1"); !errors.Is(err, ErrForwardOff) {
		t.Fatalf("forwarded addVoter to a leader without Forward: %v, want ErrForwardOff", err)
	}
	member := testcert.Must(testCA.Config("n2"))
	member.InsecureSkipVerify = true
	line, err := attacker{tls: member}.forward(leader.Addr(), `{"op":"apply","data":{"id":3}}`)
	if err != nil || !strings.Contains(line, `"forwardOff"`) {
		t.Fatalf("raw forwarded apply with a member's certificate: %q, %v", line, err)
	}
	c.convergeTo(map[int]uint64{1: seq}, 1)
	if servers, _ := leader.Servers(); len(servers) != 3 {
		t.Fatalf("servers %v", servers)
	}
}

// A peer that connects and sends nothing, or starts a handshake and stops,
// is disconnected after handshakeTimeout.
func TestSilentPeerIsDisconnected(t *testing.T) {
	old := handshakeTimeout
	t.Cleanup(func() { handshakeTimeout = old }) // after the node closes
	handshakeTimeout = 300 * time.Millisecond
	c := newCluster(t, 1, nil)
	addr := c.nodes["n1"].Addr()
	for _, prefix := range []string{"", "\x16\x03\x01"} { // nothing; the start of a TLS record
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(prefix))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("prefix %q: the node kept a silent connection open for 5s", prefix)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("prefix %q: closed after %v", prefix, took)
		}
	}
}
