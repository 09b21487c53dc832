// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/ministore"
)

var _ raft.StableStore = (*StableStore)(nil)

// compactMin is the number of records below which a StableStore's journal
// is never compacted.
const compactMin = 256

// stableSegmentBytes is the segment size of a StableStore's journal, which
// holds a few small keys: it also bounds the space ministore preallocates.
const stableSegmentBytes = 64 << 10

// A StableStore is a raft.StableStore kept in a small ministore journal:
// each Set is one record, fsync'd before Set returns; Open replays the
// journal and the last record of a key wins. When the journal holds four
// times as many records as keys (and at least 256), the live values are
// written again as one batch and the records before it are dropped, so the
// journal does not grow forever. It is safe for concurrent use. Create one
// with OpenStableStore.
type StableStore struct {
	mu         sync.Mutex
	j          *ministore.Store[kvRecord]
	kv         map[string][]byte
	records    uint64 // records in the journal
	compactMin uint64
	closed     bool
}

// kvRecord is one record of a StableStore journal:
//
//	{"k":"CurrentTerm","u":7}                  SetUint64
//	{"k":"LastVoteCand","v":"MTI3LjAuMC4x"}    Set: the value in base64
//	{"k64":"/wA=","v":""}                      a key that is not UTF-8
//
// A "u" value reads back through Get as 8 bytes, big-endian, and a value of
// 8 bytes set with Set reads back through GetUint64, as in raft-boltdb.
type kvRecord struct {
	K   *string `json:"k,omitempty"`
	K64 []byte  `json:"k64,omitempty"`
	V   []byte  `json:"v,omitempty"`
	U   *uint64 `json:"u,omitempty"`
}

func newKVRecord(key, val []byte, u *uint64) kvRecord {
	var r kvRecord
	if utf8.Valid(key) {
		k := string(key)
		r.K = &k
	} else {
		r.K64 = key
	}
	if u != nil {
		r.U = u
	} else {
		r.V = val
	}
	return r
}

func (r kvRecord) key() string {
	if r.K != nil {
		return *r.K
	}
	return string(r.K64)
}

func (r kvRecord) value() []byte {
	if r.U != nil {
		return binary.BigEndian.AppendUint64(nil, *r.U)
	}
	if r.V == nil {
		return []byte{}
	}
	return r.V
}

// OpenStableStore opens the store kept in the journal at path, creating it
// if needed, and reads every key. It takes the journal's lock: a second
// OpenStableStore of the same path fails with an error matching
// ministore.ErrLocked until Close.
func OpenStableStore(path string, opts *StoreOptions) (*StableStore, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	j, err := ministore.Open[kvRecord](path, &ministore.Options{MaxSegmentBytes: stableSegmentBytes, Logger: o.Logger, FS: o.FS,
		Schema: "miniraft.stable"})
	if err != nil {
		return nil, fmt.Errorf("miniraft: open stable store: %w", err)
	}
	s := &StableStore{j: j, kv: map[string][]byte{}, compactMin: compactMin}
	for rec, err := range j.All(1) {
		if err != nil {
			j.Close()
			return nil, fmt.Errorf("miniraft: open stable store: %w", err)
		}
		if rec.Value.K == nil && rec.Value.K64 == nil {
			j.Close()
			return nil, fmt.Errorf("%w: stable store %s, record %d has no key", ErrCorrupt, path, rec.Seq)
		}
		s.kv[rec.Value.key()] = rec.Value.value()
		s.records++
	}
	return s, nil
}

// Set stores val under key. It is durable when Set returns nil.
func (s *StableStore) Set(key, val []byte) error {
	return s.set(key, slices.Clone(val), nil)
}

// SetUint64 stores val under key. It is durable when SetUint64 returns nil.
func (s *StableStore) SetUint64(key []byte, val uint64) error {
	return s.set(key, nil, &val)
}

func (s *StableStore) set(key, val []byte, u *uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	rec := newKVRecord(key, val, u)
	if _, err := s.j.Append(rec); err != nil {
		return fmt.Errorf("miniraft: stable store set %q: %w", key, err)
	}
	s.kv[string(key)] = rec.value()
	s.records++
	if s.records >= max(s.compactMin, 4*uint64(len(s.kv))) {
		return s.compact()
	}
	return nil
}

// compact writes every live value again, then drops the records before
// them. A crash in between leaves older records before a prefix of the new
// ones: replay still ends with every key's last value. Called with mu held.
func (s *StableStore) compact() error {
	keys := slices.Sorted(maps.Keys(s.kv))
	recs := make([]kvRecord, len(keys))
	for i, k := range keys {
		recs[i] = newKVRecord([]byte(k), s.kv[k], nil)
	}
	first, _, err := s.j.AppendBatch(recs...)
	if err != nil {
		return fmt.Errorf("miniraft: compact stable store: %w", err)
	}
	if err := s.j.TruncateFront(first); err != nil {
		return fmt.Errorf("miniraft: compact stable store: %w", err)
	}
	s.records = uint64(len(recs))
	return nil
}

// Get returns the value of key, or ErrKeyNotFound (whose text is "not
// found", as raft expects) if it was never set.
func (s *StableStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	v, ok := s.kv[string(key)]
	if !ok {
		return nil, ErrKeyNotFound
	}
	return slices.Clone(v), nil
}

// GetUint64 returns the value of key as a uint64, or ErrKeyNotFound if it
// was never set. A value set with Set must be 8 bytes, big-endian.
func (s *StableStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("miniraft: stable store key %q holds %d bytes, not a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Close closes the journal. Calling Close again returns nil; every other
// call on a closed StableStore returns ErrClosed.
func (s *StableStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.j.Close()
}
