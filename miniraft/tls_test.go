// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"crypto/tls"
	"crypto/x509"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/testcert"
)

// Open clones the caller's TLS configuration: it never changes it.
func TestTLSConfigNotMutated(t *testing.T) {
	user := nodeTLS("n1")
	c := newCluster(t, 1, func(o *Options) { o.TLS = user })
	if _, err := c.nodes["n1"].Apply(add{ID: 1}); err != nil {
		t.Fatal(err)
	}
	if user.ClientAuth != tls.NoClientCert || user.ClientCAs != nil || user.InsecureSkipVerify || user.VerifyConnection != nil || user.MinVersion != 0 {
		t.Fatalf("Open changed the caller's tls.Config: %+v", user)
	}
}

// The client side verifies the peer's chain against the CA, without
// requiring the dialed address in its names; a certificate of another CA,
// or none, fails.
func TestTLSClientVerifiesChain(t *testing.T) {
	_, client, err := tlsConfigs(nodeTLS("n1"))
	if err != nil {
		t.Fatal(err)
	}
	if !client.InsecureSkipVerify || client.VerifyConnection == nil {
		t.Fatal("the client does not verify the chain itself")
	}
	for _, tc := range []struct {
		name  string
		certs []*x509.Certificate
		ok    bool
	}{
		{"cluster CA", []*x509.Certificate{testcert.Must(testCA.Node("n2", "10.9.9.9")).Leaf}, true},
		{"other CA", []*x509.Certificate{testcert.Must(otherCA.Node("n2")).Leaf}, false},
		{"none", nil, false},
	} {
		err := client.VerifyConnection(tls.ConnectionState{PeerCertificates: tc.certs})
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// With ServerName set, Go's own verification (with the name) is kept.
	named := nodeTLS("n1")
	named.ServerName = "n2"
	_, client, _ = tlsConfigs(named)
	if client.InsecureSkipVerify || client.VerifyConnection != nil {
		t.Fatal("ServerName set, and the host name is not verified")
	}
}

// A node resumes the TLS sessions of peers it has verified (a forwarded
// call opens a connection each), and still runs the verification on a
// resumed connection.
func TestTLSResumesSessions(t *testing.T) {
	conf := nodeTLS("n1")
	var verified atomic.Int32
	conf.VerifyConnection = func(tls.ConnectionState) error { verified.Add(1); return nil }
	server, client, err := tlsConfigs(conf)
	if err != nil {
		t.Fatal(err)
	}
	s, err := listen("127.0.0.1:0", "", nil, server, client)
	if err != nil {
		t.Fatal(err)
	}
	s.start()
	defer func() { s.Close(); s.wait() }()
	go func() {
		for {
			c, err := s.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	for i := range 3 {
		c, err := s.Dial(raft.ServerAddress(s.Addr().String()), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		if resumed := c.(*tls.Conn).ConnectionState().DidResume; resumed != (i > 0) {
			t.Errorf("connection %d: resumed %v", i, resumed)
		}
		c.Close()
	}
	if n := verified.Load(); n != 6 { // both ends of each connection
		t.Fatalf("VerifyConnection ran %d times for 3 connections (both ends)", n)
	}
}
