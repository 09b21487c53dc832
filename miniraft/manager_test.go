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
	dir := t.TempDir()
	otherReg := ministate.NewRegistry[struct{ X int }]()
	for _, tc := range []struct {
		name string
		open func() error
		want string
	}{
		{"no ID", func() error {
			_, err := Open[ledger, add](dir, &Options{Bind: "127.0.0.1:0"})
			return err
		}, "ID is required"},
		{"no address", func() error {
			_, err := Open[ledger, add](dir, &Options{ID: "n1"})
			return err
		}, "Bind (or Transport) is required"},
		{"interface without registry", func() error {
			_, err := Open[ledger, ministate.Mutator[ledger]](dir, nodeOptions("n1"))
			return err
		}, "set Options.Registry"},
		{"registry of another state", func() error {
			o := nodeOptions("n1")
			o.Registry = otherReg
			_, err := Open[ledger, ministate.Mutator[ledger]](dir, o)
			return err
		}, "not a *ministate.Registry"},
		{"wildcard bind", func() error {
			o := nodeOptions("n1")
			o.Bind = "0.0.0.0:0"
			_, err := Open[ledger, add](t.TempDir(), o)
			return err
		}, "set Options.Advertise"},
		{"no TLS", func() error {
			o := nodeOptions("n1")
			o.TLS = nil
			_, err := Open[ledger, add](t.TempDir(), o)
			return err
		}, "Options.TLS is required"},
		{"TLS and insecure", func() error {
			o := nodeOptions("n1")
			o.InsecureNoTLS = true
			_, err := Open[ledger, add](t.TempDir(), o)
			return err
		}, "both set"},
		{"TLS without a CA", func() error {
			o := nodeOptions("n1")
			o.TLS.RootCAs = nil
			_, err := Open[ledger, add](t.TempDir(), o)
			return err
		}, "no CA"},
		{"TLS without a certificate", func() error {
			o := nodeOptions("n1")
			o.TLS.Certificates = nil
			_, err := Open[ledger, add](t.TempDir(), o)
			return err
		}, "no certificate"},
		{"bad raft config", func() error {
			o := nodeOptions("n1")
			o.Raft.LeaderLeaseTimeout = time.Hour
			_, err := Open[ledger, add](dir, o)
			return err
		}, "LeaderLeaseTimeout"},
	} {
		err := tc.open()
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
