// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestCluster(t *testing.T) {
	var out strings.Builder
	if err := run(&out, t.TempDir()); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^three nodes on 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+; leader n1$`),
		regexp.MustCompile(`(?m)^n1 applied #\d+ Deposit\{alice 100\}$`),
		regexp.MustCompile(`(?m)^n3 forwarded #\d+ Withdraw\{alice 30\}$`),
		regexp.MustCompile(`(?m)^refused: .*bob has 50, cannot withdraw 80`),
		regexp.MustCompile(`(?m)^n2 reads \(linearizable\): alice=70 bob=50$`),
		regexp.MustCompile(`(?m)^n1 stopped; new leader: n[23]$`),
		regexp.MustCompile(`(?m)^n[23] applied #\d+ Deposit\{carol 70\} with n1 down$`),
		regexp.MustCompile(`(?m)^n1 restarted on 127\.0\.0\.1:\d+ and caught up to #\d+$`),
		regexp.MustCompile(`(?m)^\{"seq":\d+,"sync":\d+,"rec":\{"index":\d+,"term":\d+,"type":0,"json":\{"Deposit":\{"account":"carol","amount":70\}\},"at":\d+\},"crc":"[0-9a-f]{8}"\}$`),
		regexp.MustCompile(`(?m)^n1: alice=70 bob=50 carol=70\nn2: alice=70 bob=50 carol=70\nn3: alice=70 bob=50 carol=70$`),
	} {
		if !want.MatchString(got) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	// n1 comes back on the address it had.
	addrs := regexp.MustCompile(`three nodes on (127\.0\.0\.1:\d+),`).FindStringSubmatch(got)
	if addrs == nil || !strings.Contains(got, "n1 restarted on "+addrs[1]+" ") {
		t.Errorf("n1 did not restart on its old address:\n%s", got)
	}
}
