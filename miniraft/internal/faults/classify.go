// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"errors"

	"github.com/mini-go/mini/miniraft"
)

// The classes of a failed write.
const (
	// ClassUnknown: the write may or may not have been applied.
	ClassUnknown = "unknown"
	// ClassNotApplied: the library says the write was not applied, and
	// never will be.
	ClassNotApplied = "notApplied"
)

// classify says what a failed Apply's error means, by the library's
// documentation: an error matching miniraft.ErrOutcomeUnknown leaves the
// outcome unknown, every other error means "not applied". The harness
// checks the second half of that promise (no write that failed "not
// applied" is in the final state); see Config.TrustNotApplied.
func classify(err error) string {
	if errors.Is(err, miniraft.ErrOutcomeUnknown) {
		return ClassUnknown
	}
	return ClassNotApplied
}
