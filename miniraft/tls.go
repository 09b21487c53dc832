// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// handshakeTimeout bounds the TLS handshake and the protocol byte of a
// connection a node accepts, so that a peer that connects and says nothing
// holds a goroutine for no longer. A variable for the test.
var handshakeTimeout = 10 * time.Second

// tlsConfigs derives the two configurations of a node from the user's
// (which it clones, never changes): the server's, which requires a client
// certificate signed by the cluster's CA, and the client's, which checks
// that the node it dialed has a certificate signed by that CA.
//
// The CA is Options.TLS.RootCAs, or ClientCAs if RootCAs is nil; both
// directions use it. Nodes dial raft addresses, often IP addresses, so a
// peer's certificate is verified against the CA without requiring the
// dialed address in its names (unless the user sets ServerName, which is
// then checked as usual): every certificate the CA signs for server and
// client authentication is a member of the cluster.
func tlsConfigs(user *tls.Config) (server, client *tls.Config, err error) {
	if user == nil {
		return nil, nil, nil
	}
	if len(user.Certificates) == 0 && user.GetCertificate == nil && user.GetClientCertificate == nil {
		return nil, nil, errors.New("miniraft: Options.TLS has no certificate for this node")
	}
	roots := user.RootCAs
	if roots == nil {
		roots = user.ClientCAs
	}
	if roots == nil {
		return nil, nil, errors.New("miniraft: Options.TLS has no CA (RootCAs) to verify the other nodes with")
	}
	server = user.Clone()
	server.ClientAuth = tls.RequireAndVerifyClientCert
	if server.ClientCAs == nil {
		server.ClientCAs = roots
	}
	if server.MinVersion < tls.VersionTLS12 {
		server.MinVersion = tls.VersionTLS12
	}
	client = user.Clone()
	client.RootCAs = roots
	if client.ClientSessionCache == nil {
		// Resume TLS sessions with nodes this node has verified before:
		// a forwarded call opens a connection each, and a resumed
		// handshake skips the certificate signatures (the server still
		// requires the session's client certificate, and VerifyConnection
		// below runs on resumed connections too).
		client.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	if client.MinVersion < tls.VersionTLS12 {
		client.MinVersion = tls.VersionTLS12
	}
	if client.GetClientCertificate == nil && len(client.Certificates) == 0 {
		// A GetCertificate-only configuration: offer its certificate as a client too.
		getCert := user.GetCertificate
		client.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return getCert(&tls.ClientHelloInfo{})
		}
	}
	if client.ServerName == "" {
		userVerify := user.VerifyConnection
		client.InsecureSkipVerify = true // the chain is verified below, without the host name
		client.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := verifyChain(cs, roots); err != nil {
				return err
			}
			if userVerify != nil {
				return userVerify(cs)
			}
			return nil
		}
	}
	return server, client, nil
}

// verifyChain verifies the peer's certificate chain against roots, for
// server authentication, without a host name.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("miniraft: the other node sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("miniraft: the other node's certificate is not from the cluster's CA: %w", err)
	}
	return nil
}
