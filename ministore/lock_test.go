// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/internal/killtest"
)

// TestMain lets a test run this binary as a second process that opens a
// journal (see TestLockAcrossProcesses), or as the process the kill tests
// kill (see TestKillAppend).
func TestMain(m *testing.M) {
	if path := os.Getenv("MINISTORE_TEST_OPEN"); path != "" {
		s, err := Open[kv](path, nil)
		switch {
		case errors.Is(err, ErrLocked):
			os.Stdout.WriteString("locked\n")
		case err != nil:
			os.Stdout.WriteString("error: " + err.Error() + "\n")
		default:
			s.Close()
			os.Stdout.WriteString("opened\n")
		}
		os.Exit(0)
	}
	killtest.Main(m, killWorkloads)
}

func TestLockAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	other := func() string {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "MINISTORE_TEST_OPEN="+path)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	s := openT[kv](t, path, nil)
	if got := other(); got != "locked" {
		t.Fatalf("second process while open: %q, want locked", got)
	}
	s.Close()
	if got := other(); got != "opened" {
		t.Fatalf("second process after Close: %q, want opened", got)
	}
}
