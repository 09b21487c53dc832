// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministate"
)

// A forwarded call is one TCP connection to the leader's raft port: the
// byte 'F', one JSON request line, one JSON response line.
//
//	F{"op":"apply","data":{"Inc":{"by":1}}}
//	{"seq":42}
//	F{"op":"read"}
//	{"seq":42}
//	F{"op":"apply","data":{"Inc":{"by":1}}}
//	{"code":"notLeader","msg":"...","leaderID":"n2","leaderAddr":"127.0.0.1:7002"}
//	F{"op":"apply","data":{"Inc":{"by":1}},"rid":"client7-42"}
//	{"seq":40,"dup":true}
//
// With TLS the 'F' and the lines are inside the TLS stream.
const (
	opApply    = "apply"    // append data to the log; seq is its index
	opRead     = "read"     // a barrier; seq is the leader's sequence after it
	opAddVoter = "addVoter" // id, addr
	opRemove   = "remove"   // id
)

type forwardRequest struct {
	Op   string          `json:"op"`
	Data json.RawMessage `json:"data,omitempty"`
	ID   string          `json:"id,omitempty"`
	Addr string          `json:"addr,omitempty"`
	RID  string          `json:"rid,omitempty"` // apply: the request ID
}

type forwardResponse struct {
	Seq        uint64 `json:"seq,omitempty"`
	Dup        bool   `json:"dup,omitempty"`  // apply: a log with the request ID decided the result
	Code       string `json:"code,omitempty"` // "" for success; see codeOf
	Msg        string `json:"msg,omitempty"`
	LeaderID   string `json:"leaderID,omitempty"`
	LeaderAddr string `json:"leaderAddr,omitempty"`
}

// The codes of a forwarded call's failure, and the errors they match, in
// the order codeOf tries them: an error that wraps several sentinels gets
// the first code.
var codes = []struct {
	code string
	errs []error
}{
	{"lost", []error{ErrOutcomeUnknown, raft.ErrLeadershipLost}},
	{"unknown", []error{ErrOutcomeUnknown}},
	{"notLeader", []error{ErrNotLeader}},
	{"refused", []error{ministate.ErrRefused}},
	{"failed", []error{ErrFailed}},
	{"closed", []error{ErrClosed}},
	{"timeout", []error{ErrTimeout}},
	{"forwardOff", []error{ErrForwardOff}},
}

func codeOf(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.errs[len(c.errs)-1]) && errors.Is(err, c.errs[0]) {
			return c.code
		}
	}
	return "error"
}

// A remoteError is the failure of a call the leader ran for this node. It
// matches the sentinel of its code (ministate.ErrRefused, ErrTimeout, ...).
type remoteError struct {
	code, msg string
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Is(target error) bool {
	for _, c := range codes {
		if c.code == e.code {
			return target != nil && slices.Contains(c.errs, target)
		}
	}
	return false
}

// refuseForward answers a forwarded call on a node without
// Options.Forward: it reads the request (so that closing does not reset
// the connection before the answer is read) and refuses it.
func refuseForward(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	var req forwardRequest
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		return
	}
	json.NewEncoder(c).Encode(forwardResponse{Code: "forwardOff", Msg: ErrForwardOff.Error()})
}

// serveForward runs one call forwarded by a follower.
func (m *Manager[S, M]) serveForward(c net.Conn) {
	defer c.Close()
	deadline := time.Now().Add(m.opts.ApplyTimeout)
	c.SetDeadline(deadline.Add(time.Second)) // time to write the answer
	var req forwardRequest
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		return
	}
	var (
		resp forwardResponse
		err  error
	)
	switch {
	case m.isClosed():
		err = ErrClosed
	case req.Op == opApply && req.RID != "" && checkRequestID(req.RID) != nil:
		err = checkRequestID(req.RID)
	case req.Op == opApply:
		resp.Seq, resp.Dup, err = m.applyData(req.Data, req.RID, deadline)
	case req.Op == opRead:
		resp.Seq, err = m.barrier()
	case req.Op == opAddVoter || req.Op == opRemove:
		err = m.changeMembers(req)
	default:
		err = fmt.Errorf("miniraft: unknown forwarded call %q", req.Op)
	}
	if err != nil {
		resp = forwardResponse{Code: codeOf(err), Msg: err.Error(), Dup: resp.Dup}
		var nl *NotLeaderError
		if errors.As(err, &nl) {
			resp.LeaderID, resp.LeaderAddr = nl.LeaderID, nl.LeaderAddr
		}
	}
	json.NewEncoder(c).Encode(resp)
}

// forward has the leader run req. While there is no leader, or the one
// this node knows says it is not (any more), it waits and tries again,
// until deadline. Once a request may have reached the leader it is not
// sent again: a failure then matches ErrOutcomeUnknown.
func (m *Manager[S, M]) forward(req forwardRequest, deadline time.Time) (forwardResponse, error) {
	var last error = &NotLeaderError{}
	for {
		id, addr := m.Leader()
		if addr != "" && id != m.opts.ID {
			resp, sent, err := m.call(addr, req, deadline)
			switch {
			case err != nil && sent:
				return resp, outcomeUnknown(fmt.Errorf("miniraft: forward %s to the leader %s at %s: %w", req.Op, id, addr, err))
			case err != nil:
				last = fmt.Errorf("miniraft: forward %s to the leader %s at %s: %w", req.Op, id, addr, err)
			case resp.Code == "":
				return resp, nil
			case resp.Code == "notLeader" || resp.Code == "closed":
				last = &NotLeaderError{LeaderID: resp.LeaderID, LeaderAddr: resp.LeaderAddr}
			default:
				return resp, &remoteError{code: resp.Code, msg: resp.Msg + " (on the leader " + id + ")"}
			}
		}
		if time.Until(deadline) < 20*time.Millisecond {
			if errors.Is(last, ErrNotLeader) {
				return forwardResponse{}, last
			}
			return forwardResponse{}, fmt.Errorf("%w: %w", ErrTimeout, last)
		}
		select {
		case <-m.closed:
			return forwardResponse{}, ErrClosed
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// call sends one request to addr and waits for the answer until deadline;
// sent reports whether the request may have reached the leader (after
// which it must not be sent again).
func (m *Manager[S, M]) call(addr string, req forwardRequest, deadline time.Time) (resp forwardResponse, sent bool, err error) {
	timeout := time.Until(deadline)
	if timeout <= 0 {
		return resp, false, fmt.Errorf("%w: no time left to forward", ErrTimeout)
	}
	c, err := m.layer.dialProto(addr, protoForward, timeout)
	if err != nil {
		return resp, false, err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return resp, true, timeoutError(err)
	}
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return resp, true, timeoutError(err)
	}
	return resp, true, nil
}

// timeoutError marks a network timeout as ErrTimeout.
func timeoutError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}
