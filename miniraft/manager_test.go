// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministate"
)

func TestOpenRefusesBadOptions(t *testing.T) {
	otherReg := ministate.NewRegistry[struct{ X int }]()
	for _, tc := range []struct {
		name  string
		iface bool           // open with the interface mutation type
		opts  func(*Options) // changes nodeOptions("n1"); nil: only a Bind
		want  string
	}{
		{"no ID", false, nil, "ID is required"},
		{"no address", false, func(o *Options) { *o = Options{ID: "n1"} }, "Bind (or Transport) is required"},
		{"interface without registry", true, func(*Options) {}, "set Options.Registry"},
		{"registry of another state", true, func(o *Options) { o.Registry = otherReg }, "the Registry is for state"},
		{"wildcard bind", false, func(o *Options) { o.Bind = "0.0.0.0:0" }, "set Options.Advertise"},
		{"no TLS", false, func(o *Options) { o.TLS = nil }, "Options.TLS is required"},
		{"TLS and insecure", false, func(o *Options) { o.InsecureNoTLS = true }, "both set"},
		{"TLS without a CA", false, func(o *Options) { o.TLS.RootCAs = nil }, "no CA"},
		{"TLS without a certificate", false, func(o *Options) { o.TLS.Certificates = nil }, "no certificate"},
		{"bad raft config", false, func(o *Options) { o.Raft.LeaderLeaseTimeout = time.Hour }, "LeaderLeaseTimeout"},
	} {
		o := &Options{Bind: "127.0.0.1:0"}
		if tc.opts != nil {
			o = nodeOptions("n1")
			tc.opts(o)
		}
		var err error
		if tc.iface {
			_, err = Open[ledger, ministate.Mutator[ledger]](t.TempDir(), o)
		} else {
			_, err = Open[ledger, add](t.TempDir(), o)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

// Options.Transport takes any raft transport, here raft's in-memory one;
// mutations of several kinds go through a ministate.Registry.
func TestManagerInmemTransportAndRegistry(t *testing.T) {
	reg := ministate.NewRegistry[ledger]()
	ministate.Register[add](reg, "Add")
	_, trans := raft.NewInmemTransport("")
	o := &Options{ID: "solo", Transport: trans, Bootstrap: true, Registry: reg, Raft: testRaftConfig(), Logger: testutil.Quiet()}
	m, err := Open[ledger, ministate.Mutator[ledger]](t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, _, err := m.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	seq, err := m.ApplyBatch(add{ID: 1}, add{ID: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.Sequence() != seq {
		t.Fatalf("Sequence %d after Apply returned %d", m.Sequence(), seq)
	}
	var l raft.Log
	if err := m.logs.GetLog(seq, &l); err != nil {
		t.Fatal(err)
	}
	if string(l.Data) != `[{"Add":{"id":1}},{"Add":{"id":2}}]` {
		t.Fatalf("log data %s", l.Data)
	}
	snap, err := m.CreateSnapshot()
	if err != nil || snap < seq {
		t.Fatalf("CreateSnapshot = %d, %v", snap, err)
	}
	st, err := m.Copy()
	if err != nil || st.Sum != 3 {
		t.Fatalf("Copy = %+v, %v", st, err)
	}
}
