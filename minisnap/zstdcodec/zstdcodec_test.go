// SPDX-License-Identifier: MIT OR Apache-2.0

package zstdcodec_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/cborcodec"
	"github.com/mini-go/mini/minisnap/zstdcodec"
)

type item struct {
	ID    int    `json:"id"`
	Owner string `json:"owner"`
	Note  string `json:"note"`
}

func items(n int) []item {
	out := make([]item, n)
	for i := range out {
		out[i] = item{ID: i, Owner: fmt.Sprintf("user-%d", i%50), Note: strings.Repeat("x", i%40)}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		inner    minisnap.Codec // what New(nil) should use when nil
		opts     []zstdcodec.Option
		wantName string
		wantExt  string
	}{
		{"json", nil, nil, "json+zstd", "snapshot.json.zst"},
		{"pretty json", minisnap.JSONCodec{}, nil, "json+zstd", "snapshot.json.zst"},
		{"cbor", cborcodec.New(), nil, "cbor+zstd", "snapshot.cbor.zst"},
		{"fastest", nil, []zstdcodec.Option{zstdcodec.WithLevel(zstd.SpeedFastest)}, "json+zstd", "snapshot.json.zst"},
		{"best", nil, []zstdcodec.Option{zstdcodec.WithLevel(zstd.SpeedBestCompression)}, "json+zstd", "snapshot.json.zst"},
	}
	want := items(20_000)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := tt.inner
			if inner == nil {
				inner = minisnap.JSONCodec{Compact: true}
			}
			var raw bytes.Buffer
			if err := inner.Encode(&raw, want); err != nil {
				t.Fatal(err)
			}
			codec := zstdcodec.New(tt.inner, tt.opts...)
			store, err := minisnap.Open(t.TempDir(), &minisnap.Options{Codec: codec})
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Create(want, 3); err != nil {
				t.Fatal(err)
			}
			var got []item
			if seq, err := store.Restore(&got); err != nil || seq != 3 {
				t.Fatalf("Restore = %d, %v", seq, err)
			}
			if len(got) != len(want) || got[12345] != want[12345] {
				t.Fatalf("Restore returned %d items", len(got))
			}
			infos, _ := store.List()
			if infos[0].Codec != tt.wantName || filepath.Base(infos[0].Path) != tt.wantExt {
				t.Errorf("Info = %+v", infos[0])
			}
			if infos[0].Size*4 > int64(raw.Len()) {
				t.Errorf("compressed %d bytes of JSON to %d", raw.Len(), infos[0].Size)
			}
			// The file is a plain zstd frame: any zstd decoder reads it.
			var plain bytes.Buffer
			if err := store.Load(infos[0], func(r io.Reader) error {
				zr, err := zstd.NewReader(r)
				if err != nil {
					return err
				}
				defer zr.Close()
				_, err = io.Copy(&plain, zr)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(plain.Bytes(), raw.Bytes()) {
				t.Errorf("decompressed %d bytes, not the %d the inner codec writes", plain.Len(), raw.Len())
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	dir := t.TempDir()
	store, _ := minisnap.Open(dir, &minisnap.Options{Codec: zstdcodec.New(nil)})
	for seq := uint64(1); seq <= 2; seq++ {
		if err := store.Create(items(1000), seq); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "snap-00000000000000000002", "snapshot.json.zst")
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o644)
	var got []item
	_, err := store.Restore(&got)
	if ce, ok := errors.AsType[*minisnap.CorruptError](err); !ok || ce.Path != path {
		t.Fatalf("Restore = %v, want a *CorruptError naming %s", err, path)
	}
	if seq, _, err := store.RestoreLatestGood(&got); err != nil || seq != 1 || len(got) != 1000 {
		t.Fatalf("RestoreLatestGood = %d, %v", seq, err)
	}
}

func FuzzDecode(f *testing.F) {
	c := zstdcodec.New(nil)
	var buf bytes.Buffer
	c.Encode(&buf, items(10))
	f.Add(buf.Bytes())
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []item
		_ = c.Decode(bytes.NewReader(data), &got)
	})
}

func Example() {
	dir, err := os.MkdirTemp("", "zstdcodec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	codec := zstdcodec.New(cborcodec.New())
	store, err := minisnap.Open(dir, &minisnap.Options{Codec: codec})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Create([]string{"compressed", "binary", "state"}, 9); err != nil {
		log.Fatal(err)
	}
	var got []string
	seq, err := store.Restore(&got)
	if err != nil {
		log.Fatal(err)
	}
	infos, _ := store.List()
	fmt.Println(seq, got, infos[0].Codec, filepath.Base(infos[0].Path))
	// Output: 9 [compressed binary state] cbor+zstd snapshot.cbor.zst
}
