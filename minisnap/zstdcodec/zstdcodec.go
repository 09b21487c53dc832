// SPDX-License-Identifier: MIT OR Apache-2.0

// Package zstdcodec wraps any [minisnap.Codec] in Zstandard compression,
// using github.com/klauspost/compress/zstd.
//
//	codec := zstdcodec.New(cborcodec.New()) // or zstdcodec.New(nil) for JSON
//	store, err := minisnap.Open(dir, &minisnap.Options{Codec: codec})
//
// The wrapped codec's name and extension get a "+zstd" and ".zst" suffix:
// JSON becomes "json+zstd" in snapshot.json.zst, readable with
// `zstd -dc snapshot.json.zst | jq .`. minisnap's checksum covers the
// compressed bytes, and zstd checks its own frame checksum on decode.
package zstdcodec

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/mini-go/mini/minisnap"
)

// Codec compresses what another codec encodes. Create one with New; it is
// safe for concurrent use.
type Codec struct {
	inner minisnap.Codec
	level zstd.EncoderLevel
}

var _ minisnap.Codec = (*Codec)(nil)

// Option configures a Codec.
type Option func(*Codec)

// WithLevel sets the compression level (1 fastest .. 4 best; see
// zstd.EncoderLevel). The default is zstd.SpeedDefault.
func WithLevel(level zstd.EncoderLevel) Option {
	return func(c *Codec) { c.level = level }
}

// New returns a codec that compresses inner's output. A nil inner means
// minisnap.JSONCodec{Compact: true}: indentation is wasted on a compressed
// file.
func New(inner minisnap.Codec, opts ...Option) *Codec {
	if inner == nil {
		inner = minisnap.JSONCodec{Compact: true}
	}
	c := &Codec{inner: inner, level: zstd.SpeedDefault}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Name returns the inner codec's name + "+zstd".
func (c *Codec) Name() string { return c.inner.Name() + "+zstd" }

// Ext returns the inner codec's extension + ".zst".
func (c *Codec) Ext() string { return c.inner.Ext() + ".zst" }

// Encode encodes v with the inner codec and compresses the result into w as
// one zstd frame, streaming (the compressed bytes are not held in memory).
func (c *Codec) Encode(w io.Writer, v any) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(c.level))
	if err != nil {
		return err
	}
	if err := c.inner.Encode(zw, v); err != nil {
		zw.Close()
		return err
	}
	return zw.Close()
}

// Decode decompresses r as it reads and decodes the result with the inner
// codec into v.
func (c *Codec) Decode(r io.Reader, v any) error {
	zr, err := zstd.NewReader(r)
	if err != nil {
		return err
	}
	defer zr.Close()
	if err := c.inner.Decode(zr, v); err != nil {
		return err
	}
	// Read to the end of the frame so zstd verifies its checksum.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("zstdcodec: after the value: %w", err)
	}
	return nil
}
