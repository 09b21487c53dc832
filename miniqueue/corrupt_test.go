// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/ministore"
)

// One corruption sentinel: damage reported by any package of the family
// matches every package's ErrCorrupt, so a caller tests one.
func TestOneCorruptionSentinel(t *testing.T) {
	sentinels := map[string]error{
		"ministore": ministore.ErrCorrupt,
		"minisnap":  minisnap.ErrCorrupt,
		"miniqueue": ErrCorrupt,
	}
	damage := map[string]error{
		"a journal error":    fmt.Errorf("open: %w", &ministore.JournalError{Path: "q.log", Offset: 7, Err: ministore.ErrCorrupt}),
		"a snapshot error":   &minisnap.CorruptError{Path: "snapshot.json", Err: errors.New("checksum mismatch")},
		"a queue record":     &RecordError{Err: errors.New("bad")},
		"the queue sentinel": ErrCorrupt,
	}
	for dn, d := range damage {
		for sn, s := range sentinels {
			if !errors.Is(d, s) {
				t.Errorf("%s does not match %s.ErrCorrupt", dn, sn)
			}
		}
	}
	for sn, s := range sentinels {
		if errors.Is(fmt.Errorf("push: %w", ErrClosed), s) || errors.Is(fmt.Errorf("append: %w", ministore.ErrClosed), s) {
			t.Errorf("a closed error matches %s.ErrCorrupt", sn)
		}
	}
}
