// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// StoreOptions configure LogStore, StableStore and SnapshotStore; each
// field says which store uses it. The zero value, and a nil *StoreOptions,
// give the defaults. The Open functions copy the options; they never change
// the caller's value.
type StoreOptions struct {
	// MaxSegmentBytes is the size at which the LogStore's journal starts a
	// new segment file. Deleting the front of the log after a snapshot
	// removes the segment files wholly below the new first log and copies
	// nothing, so deleted logs that share a file with live ones keep up to
	// this much disk space until that file goes. Default 16 MiB.
	MaxSegmentBytes int64
	// CacheLogs is how many of the most recently stored logs the LogStore
	// keeps in memory, so that GetLog for them (what raft asks for when it
	// applies and replicates new logs) costs no read and no decoding.
	// Default 1024; a negative value turns the cache off.
	CacheLogs int
	// KeepSnapshots is how many snapshots the SnapshotStore keeps, the
	// newest included (minisnap's Options.Keep); older ones are deleted
	// after a new one is durable. Default 2. A negative value keeps all.
	KeepSnapshots int
	// Logger receives warnings, such as a torn journal tail cut off on
	// open. Default slog.Default().
	Logger *slog.Logger
	// FS is the file system every read, write, fsync, create, rename and
	// delete goes through. Default (nil): vfs.OS, the operating system's.
	// Tests pass a vfs.Mem to simulate power loss, or a vfs.Faulty to
	// inject I/O errors.
	FS vfs.FS
}

const (
	defaultMaxSegmentBytes = 16 << 20
	defaultCacheLogs       = 1024
	defaultKeepSnapshots   = 2
)

// resolved returns a copy of o with the defaults filled in.
func (o *StoreOptions) resolved() (StoreOptions, error) {
	var r StoreOptions
	if o != nil {
		r = *o
	}
	if r.MaxSegmentBytes < 0 {
		return r, errors.New("miniraft: negative MaxSegmentBytes")
	}
	r.MaxSegmentBytes = cmp.Or(r.MaxSegmentBytes, defaultMaxSegmentBytes)
	r.CacheLogs = cmp.Or(r.CacheLogs, defaultCacheLogs)
	r.KeepSnapshots = cmp.Or(r.KeepSnapshots, defaultKeepSnapshots)
	r.Logger = cmp.Or(r.Logger, slog.Default())
	r.FS = cmp.Or(r.FS, vfs.OS)
	return r, nil
}

// Options configure a Manager. Open copies them; it never changes the
// caller's value. ID, and Bind or Transport, are required; every other
// field has the default its comment gives.
type Options struct {
	// ID is this node's server ID: unique in the cluster, and the same
	// every time the node starts from its directory.
	ID string
	// Bind is the TCP address the node listens on for raft and forwarded
	// calls, e.g. "127.0.0.1:7001". With port 0 a free port is chosen the
	// first time, and the directory remembers it: a restart from the directory
	// listens on the same address, which the other nodes know.
	Bind string
	// Advertise is the address the other nodes dial, if it is not the one
	// Bind listens on (a wildcard or NAT'd bind address).
	Advertise string
	// Dial, when set, opens the TCP connections this node makes to other
	// nodes (raft's RPCs and forwarded calls), for example through a proxy.
	// Default: a net.Dialer. It must honour ctx's deadline. With TLS the
	// handshake runs over the connection Dial returns, so a proxy in
	// between sees only ciphertext.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// TLS is this node's certificate and the cluster's CA (RootCAs). Every
	// byte between nodes, raft's RPCs and forwarded calls, is then mutual
	// TLS: a node accepts a connection only from a peer whose certificate
	// the CA signed (tls.RequireAndVerifyClientCert), and dials only peers
	// whose certificate the CA signed. The dialed address need not be in
	// the peer's certificate unless ServerName is set: every certificate
	// the CA signs (for server and client authentication) is a member of
	// the cluster, so give the cluster a CA of its own. Open clones it.
	// Open refuses to start a TCP node with neither TLS nor InsecureNoTLS.
	TLS *tls.Config
	// InsecureNoTLS lets a node run on plain TCP without TLS: then anyone
	// who can reach its port can apply mutations, change the membership
	// and overwrite the log. Loopback is no exception: any local user can
	// reach it. For tests and benchmarks.
	InsecureNoTLS bool
	// Transport replaces the TCP transport, e.g. by raft's in-memory one
	// in tests. Bind, Advertise, Dial, TLS and Forward are then ignored:
	// securing it is the caller's responsibility.
	Transport raft.Transport
	// Bootstrap starts a new cluster if the directory holds no raft state
	// yet: its first configuration is Peers, or this node alone if Peers
	// is empty. Set it on one node and add the others with AddVoter, or on
	// every node with the same Peers. A node with state ignores it.
	Bootstrap bool
	// Peers is the first configuration for Bootstrap, this node included.
	Peers []Peer
	// Forward makes a follower pass Apply, ApplyBatch, ViewConsistent,
	// AddVoter and RemoveServer to the leader over the raft port, instead
	// of returning a *NotLeaderError, and makes this node serve the calls
	// other nodes forward when it leads: set it on every node, or on none.
	// A node without it refuses every forwarded call. Default false.
	Forward bool
	// Registry, when set, logs mutations as {"Kind":{...}} and decodes them
	// by kind, exactly as ministate's Options.Registry does: it must be a
	// *ministate.Registry[S] for the Manager's S. It is required when M is
	// an interface type.
	Registry ministate.Kinds
	// Codec encodes the mutations into raft logs, and decodes them on
	// every node, for example ministore/jsonv2codec, which decodes several
	// times faster. The logs hold the same JSON whichever codec wrote
	// them, so nodes with different codecs work together. Default nil:
	// encoding/json, as ministate's Options.JournalCodec.
	Codec ministore.Codec
	// Raft is hashicorp/raft's configuration: timeouts, SnapshotThreshold,
	// TrailingLogs, ... Default raft.DefaultConfig(). LocalID is set to ID,
	// and a nil Logger is replaced by one that passes raft's warnings and
	// errors to Logger.
	Raft *raft.Config
	// ApplyTimeout bounds how long Apply waits to hand a mutation to raft,
	// and how long a forwarded call or a wait for this node to apply a log
	// may take. Default 10s.
	ApplyTimeout time.Duration
	// ApplyGroup is the most Apply calls (ApplyBatch and the WithID forms
	// included, and calls forwarded by followers) that the leader puts in
	// one raft log: the calls that arrive while raft stores a log wait, and
	// then go to raft together as one group log, which every node applies
	// call by call, in order, each with its own request ID and result,
	// exactly as if each had a log of its own at the same index (so calls
	// of one group return the same sequence number). Raft's cost per log
	// is then shared by the calls in it. Default 1024; a negative value
	// gives every call a log of its own, as versions before group logs
	// did: set it while nodes of such a version are in the cluster, since
	// they do not understand group logs (see the package's Caveats).
	ApplyGroup int
	// Store configures the log, stable and snapshot stores in the directory.
	// Its Logger and FS default to the fields below.
	Store StoreOptions
	// Logger receives warnings. Default slog.Default().
	Logger *slog.Logger
	// FS is the file system every read, write, fsync, create, rename and
	// delete goes through. Default (nil): vfs.OS, the operating system's.
	// Tests pass a vfs.Mem to simulate power loss, or a vfs.Faulty to
	// inject I/O errors.
	FS vfs.FS
}

// A Peer is a member of a cluster: its server ID and raft address.
type Peer struct {
	ID   string
	Addr string
}

const (
	defaultApplyTimeout = 10 * time.Second
	defaultApplyGroup   = 1024
)

func (o *Options) resolved() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.ID == "" {
		return r, errors.New("miniraft: Options.ID is required")
	}
	if r.Bind == "" && r.Transport == nil {
		return r, errors.New("miniraft: Options.Bind (or Transport) is required")
	}
	if r.Transport == nil {
		switch {
		case r.TLS == nil && !r.InsecureNoTLS:
			return r, errors.New("miniraft: Options.TLS is required: without it anyone who can reach the port controls the cluster (set Options.InsecureNoTLS to run without it)")
		case r.TLS != nil && r.InsecureNoTLS:
			return r, errors.New("miniraft: Options.TLS and InsecureNoTLS are both set")
		}
	}
	if r.TLS != nil {
		r.TLS = r.TLS.Clone()
	}
	if r.ApplyTimeout < 0 {
		return r, errors.New("miniraft: negative ApplyTimeout")
	}
	r.ApplyTimeout = cmp.Or(r.ApplyTimeout, defaultApplyTimeout)
	switch {
	case r.ApplyGroup == 0:
		r.ApplyGroup = defaultApplyGroup
	case r.ApplyGroup > maxGroupCalls:
		return r, fmt.Errorf("miniraft: ApplyGroup %d is above %d", r.ApplyGroup, maxGroupCalls)
	}
	r.Logger = cmp.Or(r.Logger, slog.Default())
	r.FS = cmp.Or(r.FS, vfs.OS)
	r.Store.Logger = cmp.Or(r.Store.Logger, r.Logger)
	r.Store.FS = cmp.Or(r.Store.FS, r.FS)
	var conf raft.Config
	if r.Raft != nil {
		conf = *r.Raft
	} else {
		conf = *raft.DefaultConfig()
	}
	conf.LocalID = raft.ServerID(r.ID)
	if conf.Logger == nil {
		conf.Logger = hclog.FromStandardLogger(slog.NewLogLogger(r.Logger.Handler(), slog.LevelWarn),
			&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn})
	}
	if err := raft.ValidateConfig(&conf); err != nil {
		return r, fmt.Errorf("miniraft: %w", err)
	}
	r.Raft = &conf
	return r, nil
}
