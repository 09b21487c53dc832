// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// crashJournal writes n records of kv in batches of batch, syncing each
// batch when synced is set (as a Manager's group commit does), and leaves
// the journal as a crash does: not closed, its preallocated zeros after the
// last record.
func crashJournal(t *testing.T, path string, n, batch int, synced bool) {
	t.Helper()
	s, err := Open[kv](path, &Options{Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]kv, 0, batch)
	for i := 1; i <= n; i++ {
		recs = append(recs, kv{K: "k", V: i})
		if len(recs) == batch || i == n {
			if _, _, err := s.AppendBatch(recs...); err != nil {
				t.Fatal(err)
			}
			if synced {
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			recs = recs[:0]
		}
	}
	s.w.closeFiles()
	s.w.lock.Close()
}

// After a crash Open reads the newest segment only from the first record
// that no later record's "sync" field proves durable; the damage below it
// that Open passed over is reported by the readers, with its file and
// offset, and a torn tail after the proven records is still cut.
func TestOpenAfterCrashReadsOnlyUnproven(t *testing.T) {
	const n, batch = 3000, 100
	tests := []struct {
		name      string
		synced    bool
		tear      bool  // append a torn record after the last one
		wantFrom  int   // Open's provenFrom
		damageSeq int   // record whose line is damaged (0: none)
		wantOpen  error // Open's error
	}{
		{name: "synced batches", synced: true, wantFrom: n - batch + 1},
		{name: "synced batches, torn tail", synced: true, tear: true, wantFrom: n - batch + 1},
		{name: "damage below the proof", synced: true, damageSeq: 5, wantFrom: n - batch + 1},
		{name: "damage above the proof", synced: true, damageSeq: n - 10, wantOpen: ErrCorrupt},
		{name: "never synced: read whole", synced: false, wantFrom: 0},
		{name: "never synced, damage", synced: false, damageSeq: 5, wantOpen: ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			crashJournal(t, path, n, batch, tc.synced)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var off int64
			if tc.damageSeq != 0 {
				off = lineOffset(b, 1+tc.damageSeq)
				b[off+20] ^= 0x04
			}
			if tc.tear {
				end := lineOffset(b, n+2)
				copy(b[end:], `{"seq":3001,"sync":3000,"rec":{"k":"k","v":30`)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open[kv](path, nil)
			if tc.wantOpen != nil {
				var je *JournalError
				if !errors.Is(err, tc.wantOpen) || !errors.As(err, &je) || je.Offset != off {
					t.Fatalf("Open = %v, want %v at offset %d", err, tc.wantOpen, off)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.w.provenFrom; got != uint64(tc.wantFrom) {
				t.Fatalf("Open read from record %d, want %d", got, tc.wantFrom)
			}
			if s.LastSeq() != n || (s.TornTail() != nil) != tc.tear {
				t.Fatalf("last %d, torn tail %v", s.LastSeq(), s.TornTail())
			}
			if tc.tear && s.TornTail().Line != n+2 {
				t.Fatalf("torn tail at line %d, want %d", s.TornTail().Line, n+2)
			}
			// Every reader reads every record, and finds the damage.
			count := 0
			for rec, err := range s.All(1) {
				if err != nil {
					var je *JournalError
					if tc.damageSeq == 0 || !errors.Is(err, ErrCorrupt) || !errors.As(err, &je) || je.Path != path || je.Offset != off {
						t.Fatalf("All: %v, want corruption at offset %d", err, off)
					}
					break
				}
				if rec.Value.V != int(rec.Seq) {
					t.Fatalf("record %d holds %d", rec.Seq, rec.Value.V)
				}
				count++
			}
			if tc.damageSeq == 0 && count != n {
				t.Fatalf("All read %d records, want %d", count, n)
			}
			if tc.damageSeq != 0 {
				if count != tc.damageSeq-1 {
					t.Fatalf("All read %d records before the damage, want %d", count, tc.damageSeq-1)
				}
				if _, err := s.Get(uint64(tc.damageSeq)); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Get(%d) = %v, want ErrCorrupt", tc.damageSeq, err)
				}
			}
			// Appending goes on after the last record.
			if seq, err := s.Append(kv{K: "k", V: n + 1}); err != nil || seq != n+1 {
				t.Fatalf("Append: %d, %v", seq, err)
			}
		})
	}
}
