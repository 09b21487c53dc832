// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

// A Mutator is one change to a state of type S: the only way a Manager's
// state changes. Apply must be deterministic: no I/O, no clock, no
// randomness, no reading of anything but state and the mutation's own
// fields, because recovery replays the same mutations on the same states
// and must arrive at the same result. It must not panic (a panic poisons the
// Manager; see Manager.Apply) and must not keep state, or anything in it,
// after it returns.
//
// A Mutator is logged as JSON (encoding/json), so its exported fields are
// what is stored: {"by":10} for struct{ By int `json:"by"` }, the same form
// the Rust crate writes. With a Registry it is logged as {"Kind":{...}}.
type Mutator[S any] interface {
	Apply(state *S)
}

// A Validator is a Mutator that can refuse itself. If a mutation implements
// Validator, Apply and ApplyBatch call Validate before anything is logged,
// with the state exactly as the mutation would find it: every mutation
// logged before it applied, none after. A non-nil error refuses the
// mutation: nothing is logged, the state is unchanged, and Apply returns an
// error matching ErrRefused that wraps it. Validate must only read the state.
//
// A validated mutation does not wait for the mutations before it to become
// durable: while some are queued (logged, not yet applied), it is validated
// against a speculative copy of the state with them applied (see the
// package documentation, Concurrency), so validated writers share fsyncs
// like the others. The copy may be that state's JSON round trip (see
// Cloner), so Validate, like Apply, must depend only on what the state's
// JSON holds. Checks that do not need the state belong before the call to
// Apply.
type Validator[S any] interface {
	Validate(state *S) error
}

// A Cloner is a state that can deep-copy itself. If *S implements Cloner[S]
// (a method on S or on *S), the Manager uses Clone for Copy, for the
// speculative copy on which it validates mutations while others are queued
// (and a batch with several Validators), and to capture the state for a
// snapshot, which then holds writers only for the time of Clone instead of
// the time it takes to encode the state. Clone must return a value that
// shares no mutable memory (maps, slices, pointers) with the original.
//
// Without a Cloner, copies are made by a JSON round trip (encoding/json),
// which keeps exactly what a snapshot keeps: the exported fields.
type Cloner[S any] interface {
	Clone() S
}
