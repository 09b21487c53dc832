// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/minisnap"
	"github.com/mini-go/mini/vfs"
)

var _ raft.SnapshotStore = (*SnapshotStore)(nil)

// maxHeader bounds the first line of a snapshot file, the raft metadata.
const maxHeader = 16 << 20

// errCanceled is what a canceled sink leaves behind, to make minisnap drop
// the unfinished snapshot.
var errCanceled = errors.New("miniraft: snapshot canceled")

// A SnapshotStore is a raft.SnapshotStore kept in a minisnap directory.
// Each raft snapshot is one minisnap snapshot whose sequence number is the
// raft index it covers, published atomically (one rename, after every file
// and the directory were fsync'd) and verified by a CRC-32C when it is
// opened. Its state file, snapshot.raft, holds one line of raft metadata
// (the header) followed by the FSM's bytes. It is safe for concurrent use.
// Create one with OpenSnapshotStore.
type SnapshotStore struct {
	snaps *minisnap.Store
	fs    vfs.FS
	log   interface{ Warn(string, ...any) }

	mu    sync.Mutex
	metas map[metaKey]*raft.SnapshotMeta // headers read so far
}

// metaKey identifies a published snapshot file.
type metaKey struct {
	path string
	size int64
	time time.Time
}

// snapHeader is the first line of a snapshot file:
//
//	{"id":"3-120-1767323045123456789","version":1,"term":3,"index":120,"configurationIndex":4,
//	 "servers":[{"id":"n1","address":"127.0.0.1:7001","suffrage":0}, ...]}
//
// (on one line). suffrage is raft.ServerSuffrage: 0 voter, 1 nonvoter, 2
// staging.
type snapHeader struct {
	ID                 string       `json:"id"`
	Version            int          `json:"version"`
	Term               uint64       `json:"term"`
	Index              uint64       `json:"index"`
	ConfigurationIndex uint64       `json:"configurationIndex"`
	Servers            []snapServer `json:"servers"`
}

type snapServer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage int    `json:"suffrage"`
}

// rawCodec names the state files of a SnapshotStore. The store streams
// bytes through CreateFrom and Load, so its Encode and Decode are unused.
type rawCodec struct{}

func (rawCodec) Name() string { return "raft" }
func (rawCodec) Ext() string  { return ".raft" }
func (rawCodec) Encode(io.Writer, any) error {
	return errors.New("miniraft: snapshots are written through a raft.SnapshotSink")
}
func (rawCodec) Decode(io.Reader, any) error {
	return errors.New("miniraft: snapshots are read through SnapshotStore.Open")
}

// OpenSnapshotStore opens the snapshots kept in the directory dir, which
// need not exist yet. It keeps opts.KeepSnapshots snapshots (default 2).
func OpenSnapshotStore(dir string, opts *StoreOptions) (*SnapshotStore, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	keep := o.KeepSnapshots
	if keep < 0 {
		keep = -1
	}
	snaps, err := minisnap.Open(dir, &minisnap.Options{Keep: keep, Codec: rawCodec{}, FS: o.FS})
	if err != nil {
		return nil, fmt.Errorf("miniraft: open snapshots: %w", err)
	}
	return &SnapshotStore{snaps: snaps, fs: o.FS, log: o.Logger, metas: map[metaKey]*raft.SnapshotMeta{}}, nil
}

// Dir returns the directory of the snapshots.
func (s *SnapshotStore) Dir() string { return s.snaps.Dir() }

// Create starts a snapshot of the state as of index (and term): what is
// written to the returned sink becomes the snapshot once Close returns nil.
// Cancel, or a failed Close, leaves no trace. The snapshot must not cover
// less than the newest one in the store (minisnap.ErrOutOfOrder); raft
// never asks for that.
func (s *SnapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	if version < raft.SnapshotVersionMin || version > raft.SnapshotVersionMax {
		return nil, fmt.Errorf("miniraft: unsupported snapshot version %d", version)
	}
	h := snapHeader{
		ID:                 strconv.FormatUint(term, 10) + "-" + strconv.FormatUint(index, 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10),
		Version:            int(version),
		Term:               term,
		Index:              index,
		ConfigurationIndex: configurationIndex,
		Servers:            []snapServer{},
	}
	for _, srv := range configuration.Servers {
		h.Servers = append(h.Servers, snapServer{ID: string(srv.ID), Address: string(srv.Address), Suffrage: int(srv.Suffrage)})
	}
	line, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("miniraft: encode snapshot header: %w", err)
	}
	line = append(line, '\n')
	pr, pw := io.Pipe()
	sink := &snapshotSink{id: h.ID, pw: pw, done: make(chan struct{})}
	go func() {
		err := s.snaps.CreateFrom(index, func(w io.Writer) error {
			if _, err := w.Write(line); err != nil {
				return err
			}
			_, err := io.Copy(w, pr)
			return err
		})
		if err == nil {
			pr.Close()
		} else {
			// Unblock a writer if CreateFrom failed before it read.
			pr.CloseWithError(err)
		}
		sink.err = err
		close(sink.done)
	}()
	return sink, nil
}

// A snapshotSink streams the FSM's bytes to minisnap's CreateFrom, which
// runs in its own goroutine.
type snapshotSink struct {
	id   string
	pw   *io.PipeWriter
	done chan struct{}
	err  error // CreateFrom's result, set before done is closed

	finished atomic.Bool // by the first Close or Cancel
}

func (k *snapshotSink) ID() string { return k.id }

func (k *snapshotSink) Write(p []byte) (int, error) { return k.pw.Write(p) }

// Close publishes the snapshot and returns once it is durable. Raft calls
// it twice (FSMSnapshot.Persist closes the sink, then raft does): later
// calls return the first one's result.
func (k *snapshotSink) Close() error {
	if k.finished.CompareAndSwap(false, true) {
		k.pw.Close()
	}
	<-k.done
	if k.err != nil && k.err != errCanceled {
		return fmt.Errorf("miniraft: snapshot %s: %w", k.id, k.err)
	}
	return nil
}

// Cancel drops the snapshot.
func (k *snapshotSink) Cancel() error {
	if !k.finished.CompareAndSwap(false, true) {
		return nil
	}
	k.pw.CloseWithError(errCanceled)
	<-k.done
	return nil
}

// List returns the snapshots in the store, newest (highest index) first.
// A snapshot whose metadata or header cannot be read is left out, with a
// warning.
func (s *SnapshotStore) List() ([]*raft.SnapshotMeta, error) {
	entries, err := s.list()
	if err != nil {
		return nil, err
	}
	out := make([]*raft.SnapshotMeta, len(entries))
	for i, e := range entries {
		m := *e.meta
		out[i] = &m
	}
	return out, nil
}

type listed struct {
	info minisnap.Info
	meta *raft.SnapshotMeta
}

func (s *SnapshotStore) list() ([]listed, error) {
	infos, err := s.snaps.List()
	if err != nil {
		return nil, fmt.Errorf("miniraft: list snapshots: %w", err)
	}
	var out []listed
	for _, info := range infos {
		if info.Err != nil || info.Legacy || info.Codec != (rawCodec{}).Name() {
			if info.Err != nil {
				s.log.Warn("miniraft: skipping unreadable snapshot", "path", info.Path, "error", info.Err)
			}
			continue
		}
		m, err := s.meta(info)
		if err != nil {
			s.log.Warn("miniraft: skipping unreadable snapshot", "path", info.Path, "error", err)
			continue
		}
		out = append(out, listed{info, m})
	}
	return out, nil
}

// meta returns the raft metadata of a published snapshot, reading its
// header the first time.
func (s *SnapshotStore) meta(info minisnap.Info) (*raft.SnapshotMeta, error) {
	key := metaKey{info.Path, info.Size, info.Time}
	s.mu.Lock()
	m := s.metas[key]
	s.mu.Unlock()
	if m != nil {
		return m, nil
	}
	f, err := s.fs.OpenFile(info.Path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, n, err := readHeader(bufio.NewReaderSize(f, 4096), info)
	if err != nil {
		return nil, err
	}
	m = h.meta(info.Size - n)
	s.mu.Lock()
	s.metas[key] = m
	s.mu.Unlock()
	return m, nil
}

// readHeader reads and checks the header line of the snapshot info, and
// returns it with its length.
func readHeader(r *bufio.Reader, info minisnap.Info) (snapHeader, int64, error) {
	var h snapHeader
	line, err := readLine(r)
	if err != nil {
		return h, 0, fmt.Errorf("%w: snapshot %s: header: %w", ErrCorrupt, info.Path, err)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, 0, fmt.Errorf("%w: snapshot %s: header: %w", ErrCorrupt, info.Path, err)
	}
	if h.Index != info.Seq || h.ID == "" {
		return h, 0, fmt.Errorf("%w: snapshot %s: header says index %d, id %q; the snapshot is %d",
			ErrCorrupt, info.Path, h.Index, h.ID, info.Seq)
	}
	return h, int64(len(line)) + 1, nil
}

// readLine reads up to and including the first newline, and returns the
// line without it.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			return line[:len(line)-1], nil
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(line) > maxHeader {
			return nil, errors.New("header line too long")
		}
	}
}

func (h snapHeader) meta(size int64) *raft.SnapshotMeta {
	m := &raft.SnapshotMeta{
		Version:            raft.SnapshotVersion(h.Version),
		ID:                 h.ID,
		Index:              h.Index,
		Term:               h.Term,
		ConfigurationIndex: h.ConfigurationIndex,
		Size:               size,
	}
	for _, srv := range h.Servers {
		m.Configuration.Servers = append(m.Configuration.Servers, raft.Server{
			Suffrage: raft.ServerSuffrage(srv.Suffrage), ID: raft.ServerID(srv.ID), Address: raft.ServerAddress(srv.Address)})
	}
	return m
}

// Open returns the metadata and the FSM's bytes of the snapshot id. The
// bytes are streamed from the file and verified against minisnap's
// checksum as they are read: damage shows as an error matching
// minisnap.ErrCorrupt from the reader, at the latest when it reaches the
// end, so a restore must read to the end (raft's does) before it trusts
// what it read.
func (s *SnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	entries, err := s.list()
	if err != nil {
		return nil, nil, err
	}
	var found *listed
	for i := range entries {
		if entries[i].meta.ID == id {
			found = &entries[i]
			break
		}
	}
	if found == nil {
		return nil, nil, fmt.Errorf("miniraft: no snapshot %q", id)
	}
	meta := *found.meta
	info := found.info
	pr, pw := io.Pipe()
	go func() {
		err := s.snaps.Load(info, func(r io.Reader) error {
			br := bufio.NewReaderSize(r, 64<<10)
			h, _, err := readHeader(br, info)
			if err != nil {
				return err
			}
			if h.ID != id {
				return fmt.Errorf("%w: snapshot %s: header id %q, want %q", ErrCorrupt, info.Path, h.ID, id)
			}
			_, err = io.Copy(pw, br)
			return err
		})
		pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	return &meta, pr, nil
}

// Close closes the store; later calls return an error matching
// minisnap.ErrClosed.
func (s *SnapshotStore) Close() error { return s.snaps.Close() }
