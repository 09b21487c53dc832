// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The first byte of every connection to a Manager says what it carries:
// raft's RPCs (hashicorp/raft's NetworkTransport protocol), or one call
// forwarded by a follower (see forward.go). So a node needs one port. With
// Options.TLS the connection is TLS from its first byte, and this byte is
// the first inside it: nothing is read from a peer before its certificate
// is verified.
const (
	protoRaft    byte = 'R'
	protoForward byte = 'F'
)

// streamLayer is a raft.StreamLayer on a TCP listener that hands raft
// only the connections that start with protoRaft.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	conns     chan net.Conn
	closed    chan struct{}
	once      sync.Once
	forward   func(net.Conn) // serves a forwarded call, or nil to refuse them; set before start
	dial      func(ctx context.Context, addr string) (net.Conn, error)
	server    *tls.Config // nil: plain TCP (Options.InsecureNoTLS)
	client    *tls.Config
	wg        sync.WaitGroup
}

func listen(bind, advertise string, dial func(ctx context.Context, addr string) (net.Conn, error), server, client *tls.Config) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("miniraft: listen: %w", err)
	}
	var adv net.Addr = ln.Addr()
	if advertise != "" {
		if adv, err = net.ResolveTCPAddr("tcp", advertise); err != nil {
			ln.Close()
			return nil, fmt.Errorf("miniraft: advertise address: %w", err)
		}
	}
	if tcp, ok := adv.(*net.TCPAddr); !ok || tcp.IP == nil || tcp.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("miniraft: %s is not an address other nodes can dial: set Options.Advertise", adv)
	}
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	s := &streamLayer{ln: ln, advertise: adv, conns: make(chan net.Conn), closed: make(chan struct{}), dial: dial, server: server, client: client}
	return s, nil
}

// start begins routing connections.
func (s *streamLayer) start() {
	s.wg.Go(s.acceptLoop)
}

func (s *streamLayer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.wg.Go(func() { s.route(c) })
	}
}

// route verifies the peer (TLS handshake), reads the protocol byte, and
// passes the connection on; a peer gets handshakeTimeout for both.
func (s *streamLayer) route(c net.Conn) {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	if s.server != nil {
		tc := tls.Server(c, s.server)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return
		}
		c = tc
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	switch b[0] {
	case protoRaft:
		select {
		case s.conns <- c:
		case <-s.closed:
			c.Close()
		}
	case protoForward:
		if s.forward == nil {
			refuseForward(c)
			return
		}
		s.forward(c)
	default:
		c.Close()
	}
}

// Accept returns the next raft connection.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

// Close stops listening. Connections already handed out are raft's.
func (s *streamLayer) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = s.ln.Close()
	})
	return err
}

// wait waits for the routing goroutines (and forwarded calls) to end.
func (s *streamLayer) wait() { s.wg.Wait() }

// Addr returns the address other nodes dial.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial opens a raft connection to another node.
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dialProto(string(addr), protoRaft, timeout)
}

func (s *streamLayer) dialProto(addr string, proto byte, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if s.client != nil {
		tc := tls.Client(c, s.client)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("miniraft: TLS handshake with %s: %w", addr, err)
		}
		c = tc
	}
	if _, err := c.Write([]byte{proto}); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// noPipeline is raft's NetworkTransport without pipelined replication. In
// hashicorp/raft 1.8 a follower's Success=false while a pipelined send is
// starting can leave that send blocked forever: the follower gets no more
// logs, and the leader's Shutdown never returns (seen in this package's
// tests under load; also grafana/pyroscope#5518). Without the pipeline,
// raft replicates with one AppendEntries in flight per follower, each
// carrying up to MaxAppendEntries logs.
type noPipeline struct{ *raft.NetworkTransport }

func (noPipeline) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}
