// SPDX-License-Identifier: MIT OR Apache-2.0

package testcert

import (
	"crypto/tls"
	"net"
	"testing"
)

// handshake runs a mutual-TLS handshake between a server with srv and a
// client with cli over a pipe, and returns the server's error.
func handshake(srv, cli *tls.Config) error {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv = srv.Clone()
	srv.ClientAuth = tls.RequireAndVerifyClientCert
	srv.ClientCAs = srv.RootCAs
	cli = cli.Clone()
	cli.ServerName = "localhost"
	done := make(chan error, 1)
	go func() {
		c := tls.Client(b, cli)
		done <- c.Handshake()
		c.Read(make([]byte, 1)) // take the server's alert, if any
	}()
	err := tls.Server(a, srv).Handshake()
	a.Close()
	<-done
	return err
}

func TestNodeCertificates(t *testing.T) {
	ca := Must(NewCA("cluster"))
	other := Must(NewCA("other"))
	n1 := Must(ca.Config("n1"))
	n2 := Must(ca.Config("n2"))
	evil := Must(other.Config("n2"))
	evil.RootCAs = ca.Pool() // it trusts the cluster, the cluster does not trust it
	if err := handshake(n1, n2); err != nil {
		t.Fatalf("two nodes of one CA: %v", err)
	}
	if err := handshake(n1, evil); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}

	dir := t.TempDir()
	if err := ca.WriteFiles(dir, "n3"); err != nil {
		t.Fatal(err)
	}
	n3, err := LoadConfig(dir, "n3")
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(n1, n3); err != nil {
		t.Fatalf("certificate loaded from files: %v", err)
	}
}

func BenchmarkNode(b *testing.B) {
	ca := Must(NewCA("cluster"))
	for b.Loop() {
		if _, err := ca.Node("n1"); err != nil {
			b.Fatal(err)
		}
	}
}
