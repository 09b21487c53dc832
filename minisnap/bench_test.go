// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/minisnap/cborcodec"
	"github.com/mini-go/mini/vfs"
)

// benchAccount is one record of the benchmark state: a ledger of accounts,
// about 330 bytes each as pretty JSON.
type benchAccount struct {
	ID       int64     `json:"id"`
	Owner    string    `json:"owner"`
	Email    string    `json:"email"`
	Balance  int64     `json:"balance"`
	Currency string    `json:"currency"`
	Active   bool      `json:"active"`
	Created  time.Time `json:"created"`
	Tags     []string  `json:"tags"`
}

type benchState struct {
	Version  uint64         `json:"version"`
	Accounts []benchAccount `json:"accounts"`
}

const benchAccounts = 340_000 // ~100 MB as pretty JSON, ~52 MB as CBOR

// benchStateOnce builds the state once per process, outside any timing.
var benchStateOnce = sync.OnceValue(func() *benchState {
	st := &benchState{Version: 1, Accounts: make([]benchAccount, benchAccounts)}
	currencies := []string{"EUR", "USD", "GBP", "JPY", "CHF"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range st.Accounts {
		st.Accounts[i] = benchAccount{
			ID:       int64(i) + 1_000_000,
			Owner:    fmt.Sprintf("Owner Name %d", i),
			Email:    fmt.Sprintf("user%d@example.com", i),
			Balance:  int64(i*7919) % 100_000_000,
			Currency: currencies[i%len(currencies)],
			Active:   i%3 != 0,
			Created:  base.Add(time.Duration(i) * 1234567 * time.Microsecond),
			Tags:     []string{fmt.Sprintf("region-%d", i%17), fmt.Sprintf("tier-%d", i%4)},
		}
	}
	return st
})

var benchCodecs = []struct {
	name  string
	codec minisnap.Codec
}{
	{"json", minisnap.JSONCodec{}},
	{"cbor", cborcodec.New()},
}

// settle collects the garbage of the setup and flushes the disk's dirty
// pages, so that the timed loop pays for neither; both sides of each
// comparison call it.
func settle() {
	runtime.GC()
	syscall.Sync()
}

// encodeBench encodes st once, outside timing, for b.SetBytes.
func encodeBench(b *testing.B, c minisnap.Codec, st *benchState) []byte {
	b.Helper()
	var buf bytes.Buffer
	if err := c.Encode(&buf, st); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkCreate compares Create (a temporary directory, three files each
// fsync'd, a directory fsync, the publishing rename, a directory fsync, then
// retention: a rename, two directory fsyncs and the deletion of the oldest
// snapshot) with the least a durable write needs: encode with the same
// codec into one file and fsync it.
func BenchmarkCreate(b *testing.B) {
	st := benchStateOnce()
	for _, bc := range benchCodecs {
		size := int64(len(encodeBench(b, bc.codec, st)))
		b.Run(bc.name+"/minisnap", func(b *testing.B) {
			s, err := minisnap.Open(b.TempDir(), &minisnap.Options{Codec: bc.codec})
			if err != nil {
				b.Fatal(err)
			}
			// Untimed: reach the steady state, where the directory holds
			// Keep snapshots and every Create also removes the oldest.
			var seq uint64
			for range 2 {
				seq++
				if err := s.Create(st, seq); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size)
			settle()
			for b.Loop() {
				seq++
				if err := s.Create(st, seq); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/baseline-encode-write-fsync", func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "state")
			// Untimed: reach the steady state, where each write replaces
			// the previous file.
			for range 2 {
				if err := writeBaseline(bc.codec, st, path); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size)
			settle()
			for b.Loop() {
				if err := writeBaseline(bc.codec, st, path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// writeBaseline is the least a durable write of st needs: encode it with
// the codec into one file, fsync, close.
func writeBaseline(c minisnap.Codec, st *benchState, path string) error {
	f, err := vfs.OS.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = c.Encode(f, st)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// BenchmarkRestore compares Restore (read the metadata, stream the file
// through the CRC-32C into the codec, verify) with decoding the same bytes
// from memory with the same codec. The snapshot file is normally in the page
// cache, having just been written; if the machine evicts it, Restore also
// pays for reading it from disk.
func BenchmarkRestore(b *testing.B) {
	st := benchStateOnce()
	for _, bc := range benchCodecs {
		encoded := encodeBench(b, bc.codec, st)
		b.Run(bc.name+"/minisnap", func(b *testing.B) {
			s, err := minisnap.Open(b.TempDir(), &minisnap.Options{Codec: bc.codec})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Create(st, 1); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(encoded)))
			settle()
			for b.Loop() {
				var got benchState
				if _, err := s.Restore(&got); err != nil {
					b.Fatal(err)
				}
				if len(got.Accounts) != benchAccounts {
					b.Fatal("short restore")
				}
			}
		})
		b.Run(bc.name+"/baseline-decode", func(b *testing.B) {
			b.SetBytes(int64(len(encoded)))
			settle()
			for b.Loop() {
				var got benchState
				if err := bc.codec.Decode(bytes.NewReader(encoded), &got); err != nil {
					b.Fatal(err)
				}
				if len(got.Accounts) != benchAccounts {
					b.Fatal("short decode")
				}
			}
		})
	}
}

// BenchmarkCreatePaired runs Create and the baseline alternately in one
// loop, so that both meet the same machine state (page cache, heap, other
// load): on a busy or virtual machine, sequential sub-benchmarks pick up
// order effects larger than the difference being measured. It reports each
// side's mean as minisnap-ns/op and baseline-ns/op.
func BenchmarkCreatePaired(b *testing.B) {
	st := benchStateOnce()
	for _, bc := range benchCodecs {
		b.Run(bc.name, func(b *testing.B) {
			s, err := minisnap.Open(b.TempDir(), &minisnap.Options{Codec: bc.codec})
			if err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(b.TempDir(), "state")
			var (
				seq        uint64
				mini, base time.Duration
				n          int
			)
			for range 2 { // untimed: steady state on both sides
				seq++
				if err := s.Create(st, seq); err != nil {
					b.Fatal(err)
				}
				if err := writeBaseline(bc.codec, st, path); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				// Alternate which side goes first.
				sides := []func() error{
					func() error { seq++; return s.Create(st, seq) },
					func() error { return writeBaseline(bc.codec, st, path) },
				}
				took := make([]time.Duration, 2)
				for i := range 2 {
					j := (n + i) % 2
					b.StopTimer()
					settle()
					b.StartTimer()
					t0 := time.Now()
					if err := sides[j](); err != nil {
						b.Fatal(err)
					}
					took[j] = time.Since(t0)
				}
				mini += took[0]
				base += took[1]
				n++
			}
			b.ReportMetric(float64(mini.Nanoseconds())/float64(n), "minisnap-ns/op")
			b.ReportMetric(float64(base.Nanoseconds())/float64(n), "baseline-ns/op")
		})
	}
}
