package miniraft

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
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
}

type forwardResponse struct {
	Seq        uint64 `json:"seq,omitempty"`
	Code       string `json:"code,omitempty"` // "" for success; see codeOf
	Msg        string `json:"msg,omitempty"`
	LeaderID   string `json:"leaderID,omitempty"`
	LeaderAddr string `json:"leaderAddr,omitempty"`
}

// The codes of a forwarded call's failure, and the errors they match.
var codes = map[string]error{
	"notLeader": ErrNotLeader,
	"refused":   ministate.ErrRefused,
	"failed":    ErrFailed,
	"closed":    ErrClosed,
	"timeout":   ErrTimeout,
	"lost":      raft.ErrLeadershipLost,
}

func codeOf(err error) string {
	for code, target := range codes {
		if errors.Is(err, target) {
			return code
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

func (e *remoteError) Is(target error) bool { return codes[e.code] == target && target != nil }

// serveForward runs one call forwarded by a follower.
func (m *Manager[S, M]) serveForward(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(m.opts.ApplyTimeout + 5*time.Second))
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
	case req.Op == opApply:
		resp.Seq, err = m.applyData(req.Data)
	case req.Op == opRead:
		resp.Seq, err = m.barrier()
	case req.Op == opAddVoter || req.Op == opRemove:
		err = m.changeMembers(req)
	default:
		err = fmt.Errorf("miniraft: unknown forwarded call %q", req.Op)
	}
	if err != nil {
		resp = forwardResponse{Code: codeOf(err), Msg: err.Error()}
		var nl *NotLeaderError
		if errors.As(err, &nl) {
			resp.LeaderID, resp.LeaderAddr = nl.LeaderID, nl.LeaderAddr
		}
	}
	json.NewEncoder(c).Encode(resp)
}

// forward has the leader run req. While there is no leader, or the one
// this node knows says it is not (any more), it waits and tries again, up
// to Options.ApplyTimeout.
func (m *Manager[S, M]) forward(req forwardRequest) (forwardResponse, error) {
	deadline := time.Now().Add(m.opts.ApplyTimeout)
	var last error = &NotLeaderError{}
	for {
		id, addr := m.Leader()
		if addr != "" && id != m.opts.ID {
			resp, sent, err := m.call(addr, req, deadline)
			switch {
			case err != nil && sent:
				return resp, fmt.Errorf("miniraft: forward %s to the leader %s at %s (the outcome is unknown): %w", req.Op, id, addr, err)
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
		if time.Now().After(deadline) {
			return forwardResponse{}, last
		}
		select {
		case <-m.closed:
			return forwardResponse{}, ErrClosed
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// call sends one request to addr; sent reports whether it may have
// reached the leader (after which it must not be retried).
func (m *Manager[S, M]) call(addr string, req forwardRequest, deadline time.Time) (resp forwardResponse, sent bool, err error) {
	timeout := max(time.Until(deadline), time.Second)
	c, err := m.layer.dialProto(addr, protoForward, timeout)
	if err != nil {
		return resp, false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout + 5*time.Second))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return resp, true, err
	}
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return resp, true, err
	}
	return resp, true, nil
}
