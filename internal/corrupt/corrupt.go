// SPDX-License-Identifier: MIT OR Apache-2.0

// Package corrupt gives the family one corruption sentinel. Each package
// keeps its own ErrCorrupt, with its own prefix in the message
// ("ministore: corrupt journal", "minisnap: corrupt snapshot", …), but
// every one of them is an *Error, and an *Error matches any other with
// errors.Is. A caller therefore tests damage with whichever package's
// ErrCorrupt it has at hand: errors.Is(err, ministore.ErrCorrupt) is true
// for a damaged snapshot or queue record too.
package corrupt

// An Error is a package's corruption sentinel.
type Error struct{ msg string }

// New returns a corruption sentinel with the message msg.
func New(msg string) *Error { return &Error{msg: msg} }

func (e *Error) Error() string { return e.msg }

// Is reports whether target is a corruption sentinel of any package.
func (e *Error) Is(target error) bool { return Is(target) }

// Is reports whether target is a corruption sentinel of any package: the
// test a typed error's Is method makes for "matches ErrCorrupt".
func Is(target error) bool {
	_, ok := target.(*Error)
	return ok
}
