// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"fmt"

	"github.com/mini-go/mini/internal/recordcodec"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

// codec turns mutations into the Data of raft logs and back, in the form
// of a ministate journal record (internal/recordcodec): one mutation's
// JSON ({"Kind":...} with a Registry), or a JSON array of them for a
// batch, through Options.Codec (nil: encoding/json).
type codec[S any, M ministate.Mutator[S]] = recordcodec.Codec[S, M]

func newCodec[S any, M ministate.Mutator[S]](kinds ministate.Kinds, jc ministore.Codec) (codec[S, M], error) {
	c, err := recordcodec.New[S, M](recordcodec.KindsOf(kinds), jc)
	if err != nil {
		return codec[S, M]{}, fmt.Errorf("miniraft: %w", err)
	}
	return c, nil
}
