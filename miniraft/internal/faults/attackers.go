// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/mini-go/mini/internal/testcert"
)

// newAttackers returns the attackers of a cluster that runs mutual TLS:
// one on plain TCP, one with TLS and a certificate from another CA, one
// with TLS and no certificate. None of them checks the node's
// certificate: they want in, not to be sure whom they talk to.
func newAttackers() ([]*Attacker, error) {
	other, err := testcert.NewCA("another CA")
	if err != nil {
		return nil, err
	}
	otherCert, err := other.Node("evil")
	if err != nil {
		return nil, err
	}
	dialTLS := func(conf *tls.Config) func(addr string, timeout time.Duration) (net.Conn, error) {
		return func(addr string, timeout time.Duration) (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, conf)
		}
	}
	return []*Attacker{
		{Name: "plain", Dial: func(addr string, timeout time.Duration) (net.Conn, error) {
			return net.DialTimeout("tcp", addr, timeout)
		}},
		{Name: "other-ca", Dial: dialTLS(&tls.Config{Certificates: []tls.Certificate{otherCert}, InsecureSkipVerify: true})},
		{Name: "no-cert", Dial: dialTLS(&tls.Config{InsecureSkipVerify: true})},
	}, nil
}
