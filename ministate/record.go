// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate

import (
	"reflect"

	"github.com/mini-go/mini/internal/recordcodec"
	"github.com/mini-go/mini/ministore"
)

// The journal's records are written and read by internal/recordcodec,
// which miniraft's raft logs share. A Kinds reaches it through kindsOf.

func init() { recordcodec.KindsOf = recordKinds }

// recordKinds returns the recordcodec.Kinds of kinds, a Kinds; nil for nil.
func recordKinds(kinds any) recordcodec.Kinds {
	if k, ok := kinds.(Kinds); ok && k != nil {
		return kindsOf{k}
	}
	return nil
}

// kindsOf gives recordcodec the unexported methods of a Kinds.
type kindsOf struct{ k Kinds }

func (k kindsOf) EncodeKind(v any, marshal func(any) ([]byte, error)) ([]byte, error) {
	return k.k.encodeKind(v, marshal)
}

func (k kindsOf) DecodeKind(data []byte, unmarshal func([]byte, any) error) (any, error) {
	return k.k.decodeKind(data, unmarshal)
}

func (k kindsOf) Check(state, mutation reflect.Type) error { return k.k.check(state, mutation) }

// codec is the record codec of a Manager of S and M.
type codec[S any, M Mutator[S]] = recordcodec.Codec[S, M]

// newCodec returns the record codec of a Manager of S and M.
func newCodec[S any, M Mutator[S]](kinds Kinds, jc ministore.Codec) (codec[S, M], error) {
	return recordcodec.New[S, M](recordKinds(kinds), jc)
}

// validates reports whether any of ms is a Validator.
func validates[S any, M Mutator[S]](ms []M) bool {
	for _, m := range ms {
		if _, ok := any(m).(Validator[S]); ok {
			return true
		}
	}
	return false
}
