// Package crashtest holds what the crash tests of the mini packages share.
package crashtest

import (
	"os"
	"strconv"
)

// Variants is how many crashes each crash point of a crash test gets: one
// that keeps exactly the synced state, and Variants()-1 that each keep a
// random part of the unsynced data, written back out of order. The
// environment variable MINI_CRASH_VARIANTS raises it; the default is 3.
// Tests may spread the random ones over their crash points (every other
// point, say) at the default, and do them at every point when raised.
func Variants() int {
	if n, err := strconv.Atoi(os.Getenv("MINI_CRASH_VARIANTS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// Raised reports whether MINI_CRASH_VARIANTS asks for more than the default.
func Raised() bool { return Variants() != 3 }
