// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"fmt"
	"reflect"

	"github.com/mini-go/mini/internal/recordcodec"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

// registry is what a *ministate.Registry[S] offers through its exported
// methods.
type registry[S any] interface {
	Encode(m ministate.Mutator[S]) ([]byte, error)
	Decode(data []byte) (ministate.Mutator[S], error)
}

// codec turns mutations into the Data of raft logs and back, in the form
// of a ministate journal record (internal/recordcodec): one mutation's
// JSON ({"Kind":...} with a Registry), or a JSON array of them for a
// batch, through Options.Codec (nil: encoding/json).
type codec[S any, M ministate.Mutator[S]] = recordcodec.Codec[S, M]

func newCodec[S any, M ministate.Mutator[S]](kinds ministate.Kinds, jc ministore.Codec) (codec[S, M], error) {
	if kinds != nil {
		if _, ok := kinds.(registry[S]); !ok {
			return codec[S, M]{}, fmt.Errorf("miniraft: Options.Registry is a %T, not a *ministate.Registry[%v]", kinds, reflect.TypeFor[S]())
		}
	}
	c, err := recordcodec.New[S, M](recordcodec.KindsOf(kinds), jc)
	if err != nil {
		return codec[S, M]{}, fmt.Errorf("miniraft: %w", err)
	}
	return c, nil
}
