// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore_test

import (
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/ministore/jsonv2codec"
)

// TestBigAppendRatios (package ministore) measures jsonv2codec too.
func init() { ministore.RegisterBenchCodec("jsonv2", jsonv2codec.New()) }
