// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"time"
)

// A Client talks the client protocol to one node over one connection,
// which it opens on first use and again after any failure (the node's
// address may change when it restarts: addr is asked each time). It is
// not safe for concurrent use.
type Client struct {
	addr func() string
	c    net.Conn
	r    *bufio.Reader
}

// NewClient returns a client of the node whose address addr returns.
func NewClient(addr func() string) *Client { return &Client{addr: addr} }

// errNotSent is the error of a request that never reached the node.
var errNotSent = errors.New("faults: could not connect to the node")

// Do sends req and waits up to timeout for the answer. sent is false if
// the request cannot have reached the node (no connection).
func (cl *Client) Do(req Request, timeout time.Duration) (resp Response, sent bool, err error) {
	if cl.c == nil {
		addr := cl.addr()
		if addr == "" {
			return resp, false, errNotSent
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return resp, false, errors.Join(errNotSent, err)
		}
		cl.c, cl.r = c, bufio.NewReader(c)
	}
	defer func() {
		if err != nil {
			cl.Close()
		}
	}()
	b, err := json.Marshal(req)
	if err != nil {
		return resp, false, err
	}
	cl.c.SetDeadline(time.Now().Add(timeout))
	if _, err := cl.c.Write(append(b, '\n')); err != nil {
		return resp, true, err
	}
	line, err := cl.r.ReadBytes('\n')
	if err != nil {
		return resp, true, err
	}
	err = json.Unmarshal(line, &resp)
	return resp, true, err
}

// Close closes the connection, if any.
func (cl *Client) Close() {
	if cl.c != nil {
		cl.c.Close()
		cl.c, cl.r = nil, nil
	}
}
