// SPDX-License-Identifier: MIT OR Apache-2.0

package expvarstats

import "expvar"

// A Source is anything with a Stats method: *ministore.Store[R],
// *ministate.Manager[S, M] and *miniqueue.Queue[T] are.
type Source[T any] interface{ Stats() T }

// Func returns an expvar.Var whose value is src.Stats(), read on every
// access.
func Func[T any](src Source[T]) expvar.Func {
	return func() any { return src.Stats() }
}

// Publish publishes src's figures under name (see expvar.Publish, which
// panics if name is taken) and returns the variable.
func Publish[T any](name string, src Source[T]) expvar.Var {
	v := Func(src)
	expvar.Publish(name, v)
	return v
}
