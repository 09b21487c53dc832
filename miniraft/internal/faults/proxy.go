// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// A Proxy is one directed network link between two nodes: node A dials
// the proxy instead of node B, and the proxy copies bytes both ways. The
// test controls it:
//
//   - Pass: bytes flow (after Delay, if set).
//   - Drop: a blackhole. Nothing is delivered in either direction, new
//     connections are accepted but not passed on, and what was sent waits,
//     as TCP's retransmissions would, until the link passes again or an
//     endpoint gives up and closes. Bytes are never lost inside a
//     connection: TCP does not do that.
//   - Delay: every chunk is delivered Delay after it was read.
//   - Cut: every open connection is closed at once (both ends see a reset
//     or EOF); new ones pass.
//
// A Proxy is safe for concurrent use.
type Proxy struct {
	ln net.Listener

	mu     sync.Mutex
	target string
	drop   bool
	delay  time.Duration
	change chan struct{} // closed and replaced when drop changes
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and passes connections to
// target (which may be set later with SetTarget).
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, change: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the address to dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget changes where new connections go.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

// SetDrop turns the blackhole on or off.
func (p *Proxy) SetDrop(drop bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drop != drop {
		p.drop = drop
		close(p.change)
		p.change = make(chan struct{})
	}
}

// SetDelay sets the latency added to every chunk from now on.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Cut closes every open connection.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	close(p.change)
	p.change = make(chan struct{})
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

// waitPass blocks while the link drops, and returns the delay, or false
// if the proxy closed meanwhile.
func (p *Proxy) waitPass() (time.Duration, bool) {
	for {
		p.mu.Lock()
		drop, closed, ch, d := p.drop, p.closed, p.change, p.delay
		p.mu.Unlock()
		if closed {
			return 0, false
		}
		if !drop {
			return d, true
		}
		<-ch
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !p.track(c) {
			continue
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve passes one connection on, once the link lets it through.
func (p *Proxy) serve(c net.Conn) {
	defer p.untrack(c)
	if _, ok := p.waitPass(); !ok {
		return
	}
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	if target == "" {
		return
	}
	up, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(up, c) })
	p.pipe(c, up)
	wg.Wait()
}

type chunk struct {
	b  []byte
	at time.Time // read at
}

// pipe copies src to dst until either fails, honouring drop and delay;
// then it closes both, so the other direction ends too.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	chunks := make(chan chunk, 64)
	go func() {
		defer close(chunks)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				chunks <- chunk{b: b[:n], at: time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range chunks {
		d, ok := p.waitPass()
		if !ok {
			break
		}
		if wait := time.Until(ch.at.Add(d)); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(ch.b); err != nil {
			break
		}
	}
	// Unblock the reader if we stopped early, and drain it.
	src.Close()
	for range chunks {
	}
}

var _ io.Closer = (*Proxy)(nil)
