// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import "time"

// DecodeRecord and EncodeRecord expose the journal record codec to the
// tests in package ministate_test.
func DecodeRecord[S any, M Mutator[S]](kinds Kinds, p []byte) ([]M, error) {
	c, err := newCodec[S, M](kinds, nil)
	if err != nil {
		return nil, err
	}
	return c.Decode(p, nil)
}

func EncodeRecord[S any, M Mutator[S]](kinds Kinds, ms []M) ([]byte, error) {
	c, err := newCodec[S, M](kinds, nil)
	if err != nil {
		return nil, err
	}
	return c.Encode(ms)
}

// SetLoadPause sets the pause Load makes between its reads of the
// snapshot and of the journal, and returns a func that restores it.
func SetLoadPause(d time.Duration) func() {
	prev := loadPause
	loadPause = d
	return func() { loadPause = prev }
}

// SetTestBackupBetween sets the hook that runs between the copies of the
// snapshot and of the journal in a live Backup.
func SetTestBackupBetween(fn func()) { testBackupBetween = fn }
