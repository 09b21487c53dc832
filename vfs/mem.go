// SPDX-License-Identifier: MIT OR Apache-2.0

package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mem is an in-memory FS that can simulate a power loss.
//
// Besides the current state of every file and directory, Mem remembers its
// durable state: a file's contents as of its last [File.Sync], and a
// directory's entries as of its last [FS.SyncDir] (or Sync of a handle
// opened on the directory). [Mem.CrashClone] returns the disk as it would be
// found after a power loss: only the durable state, possibly with some of
// the unsynced changes written back.
//
// Paths are cleaned with [filepath.Clean]; a relative path is relative to
// the root, so "a/b", "./a/b" and "/a/b" name the same file. There are no
// symbolic links, and permission bits are recorded but not enforced.
//
// Errors are *[fs.PathError] values wrapping the errno the operating system
// would report (so errors.Is(err, fs.ErrNotExist) and errors.Is(err,
// fs.ErrExist) behave as with [OS]); Rename too returns a *fs.PathError,
// whose Path is the old path. Unlike the operating system, SyncDir of a
// file fails with ENOTDIR instead of syncing the file.
//
// A Mem is safe for concurrent use. The zero value is not usable: call
// [NewMem].
type Mem struct {
	mu    sync.Mutex
	root  *inode
	locks map[string]bool // cleaned absolute path -> held
	clock int64           // logical clock for modification times
}

// inode is a file or a directory. A directory's entries point to inodes, so
// that one inode can have several names in the durable state (for example
// after a rename whose target directory was synced but whose source
// directory was not).
type inode struct {
	mode    fs.FileMode // permission bits, plus fs.ModeDir for a directory
	modTime int64       // Mem.clock at the last change

	// File state. data and synced never share a backing array. They
	// differ at most in data[dirtyLo:dirtyHi] and past the shorter one's
	// end (every size change marks the bytes between the sizes), so Sync
	// copies only that; and in the bytes a failed sync lost (loseUnsynced),
	// which no later Sync copies.
	data             []byte // current contents
	synced           []byte // contents as of the last Sync
	dirtyLo, dirtyHi int

	// Directory state.
	entries       map[string]*inode // current entries
	syncedEntries map[string]*inode // entries as of the last SyncDir
}

func (n *inode) isDir() bool { return n.mode.IsDir() }

// changed notes that data[lo:hi] may now differ from synced.
func (n *inode) changed(lo, hi int) {
	if n.dirtyLo == n.dirtyHi {
		n.dirtyLo, n.dirtyHi = lo, hi
		return
	}
	n.dirtyLo, n.dirtyHi = min(n.dirtyLo, lo), max(n.dirtyHi, hi)
}

// setSize resizes data to size, zero-filling any growth.
func (n *inode) setSize(size int) {
	old := len(n.data)
	n.data = resize(n.data, size)
	n.changed(min(old, size), max(old, size))
}

func newDir(perm fs.FileMode, t int64) *inode {
	return &inode{
		mode:          fs.ModeDir | perm&fs.ModePerm,
		modTime:       t,
		entries:       map[string]*inode{},
		syncedEntries: map[string]*inode{},
	}
}

// NewMem returns an empty in-memory file system whose root directory exists
// and is durable.
func NewMem() *Mem {
	return &Mem{root: newDir(0o755, 0), locks: map[string]bool{}}
}

// split cleans name and returns its components below the root; the root
// itself has none.
func split(name string) []string {
	p := path.Clean("/" + filepath.ToSlash(filepath.Clean(name)))
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// tick advances the logical clock and returns the new time.
func (m *Mem) tick() int64 {
	m.clock++
	return m.clock
}

// walk resolves the path components from the root. The caller holds m.mu.
func (m *Mem) walk(parts []string) (*inode, error) {
	n := m.root
	for _, p := range parts {
		if !n.isDir() {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.entries[p]
		if !ok {
			return nil, syscall.ENOENT
		}
		n = c
	}
	return n, nil
}

// parent resolves the directory holding the last of parts, which must not
// be empty, and returns it with that last name. The caller holds m.mu.
func (m *Mem) parent(parts []string) (*inode, string, error) {
	d, err := m.walk(parts[:len(parts)-1])
	if err != nil {
		return nil, "", err
	}
	if !d.isDir() {
		return nil, "", syscall.ENOTDIR
	}
	return d, parts[len(parts)-1], nil
}

// OpenFile opens name like [os.OpenFile]. O_APPEND is supported as well as
// the flags listed in [FS]. A directory can be opened read-only; reading it
// fails with EISDIR and syncing it is like [Mem.SyncDir].
func (m *Mem) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.open(name, flag, perm)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

// open implements OpenFile. The caller holds m.mu.
func (m *Mem) open(name string, flag int, perm fs.FileMode) (*memFile, error) {
	parts := split(name)
	n := m.root
	if len(parts) > 0 {
		d, base, err := m.parent(parts)
		if err != nil {
			return nil, err
		}
		n = d.entries[base]
		if n == nil {
			if flag&os.O_CREATE == 0 {
				return nil, syscall.ENOENT
			}
			t := m.tick()
			n = &inode{mode: perm & fs.ModePerm, modTime: t}
			d.entries[base] = n
			d.modTime = t
			flag &^= os.O_EXCL
		}
	}
	if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
		return nil, syscall.EEXIST
	}
	write := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if n.isDir() && (write || flag&(os.O_CREATE|os.O_TRUNC) != 0) {
		return nil, syscall.EISDIR
	}
	if flag&os.O_TRUNC != 0 && len(n.data) > 0 {
		n.setSize(0)
		n.modTime = m.tick()
	}
	return &memFile{
		m:      m,
		n:      n,
		name:   name,
		read:   flag&os.O_WRONLY == 0,
		write:  write,
		append: flag&os.O_APPEND != 0,
	}, nil
}

// Mkdir creates the directory name. Its parent must exist. The new
// directory is durable only after SyncDir of its parent.
func (m *Mem) Mkdir(name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.mkdir(name, perm); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	return nil
}

func (m *Mem) mkdir(name string, perm fs.FileMode) error {
	parts := split(name)
	if len(parts) == 0 {
		return syscall.EEXIST
	}
	d, base, err := m.parent(parts)
	if err != nil {
		return err
	}
	if _, ok := d.entries[base]; ok {
		return syscall.EEXIST
	}
	t := m.tick()
	d.entries[base] = newDir(perm, t)
	d.modTime = t
	return nil
}

// Remove deletes a file or an empty directory. Open handles of a removed
// file keep working on its (now nameless) contents.
func (m *Mem) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.remove(name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

func (m *Mem) remove(name string) error {
	parts := split(name)
	if len(parts) == 0 {
		return syscall.EBUSY
	}
	d, base, err := m.parent(parts)
	if err != nil {
		return err
	}
	n, ok := d.entries[base]
	if !ok {
		return syscall.ENOENT
	}
	if n.isDir() && len(n.entries) > 0 {
		return errNotEmpty
	}
	delete(d.entries, base)
	d.modTime = m.tick()
	return nil
}

// Rename moves oldpath to newpath, replacing a file there, as [os.Rename]
// does: like it, Rename fails with EEXIST rather than replace a directory.
// Renaming a directory moves its whole subtree.
func (m *Mem) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.rename(oldpath, newpath); err != nil {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: err}
	}
	return nil
}

func (m *Mem) rename(oldpath, newpath string) error {
	op, np := split(oldpath), split(newpath)
	if len(op) == 0 || len(np) == 0 {
		return syscall.EBUSY
	}
	od, oldBase, err := m.parent(op)
	if err != nil {
		return err
	}
	n, ok := od.entries[oldBase]
	if !ok {
		return syscall.ENOENT
	}
	nd, newBase, err := m.parent(np)
	if err != nil {
		return err
	}
	if n.isDir() && len(np) > len(op) && slices.Equal(np[:len(op)], op) {
		return syscall.EINVAL // into its own subtree
	}
	if old, ok := nd.entries[newBase]; ok {
		switch {
		case old == n:
			return nil // the same file: rename(2) does nothing
		case old.isDir():
			return syscall.EEXIST // as os.Rename, which never replaces a directory
		case n.isDir():
			return syscall.ENOTDIR
		}
	}
	t := m.tick()
	delete(od.entries, oldBase)
	nd.entries[newBase] = n
	od.modTime, nd.modTime = t, t
	return nil
}

// Stat describes name. ModTime is a logical clock that advances with every
// change to the file system, not wall-clock time.
func (m *Mem) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk(split(name))
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return n.info(filepath.Base(name)), nil
}

func (n *inode) info(name string) fs.FileInfo {
	return &memInfo{name: name, size: int64(len(n.data)), mode: n.mode, modTime: n.modTime}
}

// ReadDir lists the names in dir, sorted.
func (m *Mem) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.walk(split(dir))
	if err == nil && !d.isDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: err}
	}
	return slices.Sorted(maps.Keys(d.entries)), nil
}

// SyncDir makes the current entries of dir durable: the set of names and
// which file or directory each one refers to (not the files' contents).
func (m *Mem) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.walk(split(dir))
	if err == nil && !d.isDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: err}
	}
	d.syncedEntries = maps.Clone(d.entries)
	return nil
}

// Lock creates name if needed, like [OS], and takes an exclusive lock on its
// cleaned path in a table private to m. A second Lock of the same path
// fails with an error matching [ErrLocked] until the first is released by
// closing the returned Closer.
func (m *Mem) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.open(name, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	key := "/" + strings.Join(split(name), "/")
	if m.locks[key] {
		return nil, &fs.PathError{Op: "lock", Path: name, Err: ErrLocked}
	}
	m.locks[key] = true
	return &memLock{m: m, key: key, name: name}, nil
}

type memLock struct {
	m        *Mem
	key      string
	name     string
	released bool // guarded by m.mu
}

// Close releases the lock.
func (l *memLock) Close() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.released {
		return &fs.PathError{Op: "close", Path: l.name, Err: fs.ErrClosed}
	}
	l.released = true
	delete(l.m.locks, l.key)
	return nil
}

// CrashOptions controls how [Mem.CrashClone] treats changes that were not
// made durable.
type CrashOptions struct {
	// Rand is the source of randomness for partial write-back. With a nil
	// Rand, the crash keeps exactly the durable state.
	Rand *rand.Rand
	// KeepUnsynced is the probability with which each unsynced change
	// survives the crash anyway; see [Mem.CrashClone]. With 0 the crash
	// keeps exactly the durable state.
	KeepUnsynced float64
}

// crashBlock is the unit in which unsynced file data is written back.
const crashBlock = 4096

// CrashClone returns a new, independent Mem holding what the disk would hold
// after a power loss at this instant. Everything in the clone is durable
// and no locks are held; m itself is not changed, and later changes to
// either file system never show in the other.
//
// With zero CrashOptions (or a nil Rand, or KeepUnsynced <= 0) the clone
// holds exactly the durable state: starting at the root, every directory
// has the entries it had at its last SyncDir (a directory created since
// then is empty), and every file has the contents it had at its last Sync
// (a file never synced is empty). A file reachable by several names in
// that state, as after a rename synced in the new directory but not in the
// old, stays one file with several names, like a hard link. A directory can
// have only one name: when the walk, visiting entries in sorted order,
// reaches an already visited directory again, that entry is dropped.
//
// With KeepUnsynced > 0 and a non-nil Rand, the clone also keeps some of
// the unsynced changes, as an operating system writing back dirty data in
// any order would. For each directory, each entry that differs between the
// current and the durable entries (added, removed, or referring to another
// file or directory) takes its current value with probability KeepUnsynced
// and keeps its durable one otherwise; but changes that involve the same
// file (the old and the new name of a rename) are decided together, since
// POSIX file systems make a rename atomic even before the directory is
// synced, and otherwise independently. For each
// file, the length is the durable length or the current length, each with
// probability 1/2; then each 4096-byte block of that length in which the
// current contents differ from the durable contents (both read as zeros
// past their end) is independently taken from the current contents with
// probability KeepUnsynced, and from the durable contents otherwise (zeros
// where the durable file was shorter). Blocks that match are the same
// either way, so durable data that is still current is never lost. The
// directories are visited depth first from the root in sorted name order,
// so a given seed always gives the same clone of the same state.
func (m *Mem) CrashClone(opts CrashOptions) *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &cloner{
		rnd:  opts.Rand,
		keep: opts.KeepUnsynced,
		seen: map[*inode]*inode{},
	}
	if c.rnd == nil || c.keep <= 0 {
		c.rnd = nil
	}
	return &Mem{root: c.dir(m.root), locks: map[string]bool{}, clock: m.clock}
}

// cloner builds the post-crash copy of a Mem.
type cloner struct {
	rnd  *rand.Rand // nil: keep exactly the durable state
	keep float64
	seen map[*inode]*inode // original -> copy
}

func (c *cloner) keepChange() bool { return c.rnd.Float64() < c.keep }

func (c *cloner) dir(n *inode) *inode {
	d := &inode{mode: n.mode, modTime: n.modTime}
	c.seen[n] = d
	ents := maps.Clone(n.syncedEntries)
	if c.rnd != nil {
		names := slices.Collect(maps.Keys(n.entries))
		for name := range n.syncedEntries {
			if _, ok := n.entries[name]; !ok {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		// A rename is atomic even before the directory is synced: its
		// removal of the old name and its new name are one change. So
		// changes that move the same inode are grouped, and each group is
		// kept or lost as a whole.
		group := map[string]int{}
		byInode := map[*inode]int{}
		parent := []int{}
		find := func(i int) int {
			for parent[i] != i {
				i = parent[i]
			}
			return i
		}
		for _, name := range names {
			cur, old := n.entries[name], n.syncedEntries[name]
			if cur == old {
				continue
			}
			g := len(parent)
			parent = append(parent, g)
			group[name] = g
			for _, in := range []*inode{cur, old} {
				if in == nil {
					continue
				}
				if h, ok := byInode[in]; ok {
					parent[find(g)] = find(h)
				} else {
					byInode[in] = g
				}
			}
		}
		decided := map[int]bool{}
		for _, name := range names {
			g, changed := group[name]
			if !changed {
				continue
			}
			root := find(g)
			keep, ok := decided[root]
			if !ok {
				keep = c.keepChange()
				decided[root] = keep
			}
			if !keep {
				continue
			}
			if cur := n.entries[name]; cur == nil {
				delete(ents, name)
			} else {
				ents[name] = cur
			}
		}
	}
	d.entries = make(map[string]*inode, len(ents))
	for _, name := range slices.Sorted(maps.Keys(ents)) {
		child := ents[name]
		if cc, ok := c.seen[child]; ok {
			if !child.isDir() {
				d.entries[name] = cc
			}
			continue
		}
		if child.isDir() {
			d.entries[name] = c.dir(child)
		} else {
			d.entries[name] = c.file(child)
		}
	}
	d.syncedEntries = maps.Clone(d.entries)
	return d
}

func (c *cloner) file(n *inode) *inode {
	data := bytes.Clone(n.synced)
	if c.rnd != nil {
		data = c.mix(n.synced, n.data)
	}
	f := &inode{mode: n.mode, modTime: n.modTime, data: data, synced: bytes.Clone(data)}
	c.seen[n] = f
	return f
}

// mix returns the durable contents of a file with some unsynced blocks
// written back, as described at CrashClone.
func (c *cloner) mix(synced, cur []byte) []byte {
	size := len(synced)
	if len(cur) != len(synced) && c.rnd.IntN(2) == 1 {
		size = len(cur)
	}
	out := make([]byte, size)
	copy(out, synced)
	curBlock := make([]byte, crashBlock)
	for off := 0; off < size; off += crashBlock {
		end := min(off+crashBlock, size)
		cb := curBlock[:end-off]
		clear(cb)
		copy(cb, cur[min(off, len(cur)):min(end, len(cur))])
		if !bytes.Equal(out[off:end], cb) && c.keepChange() {
			copy(out[off:end], cb)
		}
	}
	return out
}

// String lists every file and directory of m, one a line, with file sizes,
// marking names and contents that are not durable. It is meant for test
// failure messages.
func (m *Mem) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("/\n")
	dump(&b, m.root, "/")
	return b.String()
}

func dump(b *strings.Builder, d *inode, dir string) {
	names := slices.Collect(maps.Keys(d.entries))
	for name := range d.syncedEntries {
		if _, ok := d.entries[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		p := dir + name
		n, ok := d.entries[name]
		if !ok {
			fmt.Fprintf(b, "%s (removed; removal not synced)\n", p)
			continue
		}
		var notes []string
		if d.syncedEntries[name] != n {
			notes = append(notes, "entry not synced")
		}
		if n.isDir() {
			fmt.Fprintf(b, "%s/%s\n", p, noteString(notes))
			dump(b, n, p+"/")
			continue
		}
		if !bytes.Equal(n.data, n.synced) {
			notes = append(notes, fmt.Sprintf("data not synced, %d bytes durable", len(n.synced)))
		}
		fmt.Fprintf(b, "%s %d%s\n", p, len(n.data), noteString(notes))
	}
}

func noteString(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return " (" + strings.Join(notes, "; ") + ")"
}

// memInfo is the fs.FileInfo of a Mem file or directory.
type memInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime int64
}

func (i *memInfo) Name() string       { return i.name }
func (i *memInfo) Size() int64        { return i.size }
func (i *memInfo) Mode() fs.FileMode  { return i.mode }
func (i *memInfo) ModTime() time.Time { return time.Unix(i.modTime, 0).UTC() }
func (i *memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *memInfo) Sys() any           { return nil }

// memFile is an open Mem file. All its fields but m, n and name are
// guarded by m.mu.
type memFile struct {
	m      *Mem
	n      *inode
	name   string
	off    int64
	read   bool
	write  bool
	append bool
	closed bool
}

var (
	errNegativeOffset = errors.New("vfs: negative offset")
	errAppendWriteAt  = errors.New("vfs: WriteAt on a file opened with O_APPEND")
)

// check reports why op cannot run on f, if it cannot. The caller holds
// f.m.mu.
func (f *memFile) check(op string, read, write bool) error {
	var err error
	switch {
	case f.closed:
		err = fs.ErrClosed
	case f.n.isDir() && (read || write):
		err = syscall.EISDIR
	case read && !f.read, write && !f.write:
		err = errBadFD
	default:
		return nil
	}
	return &fs.PathError{Op: op, Path: f.name, Err: err}
}

// Read reads from the file's offset, like [os.File.Read].
func (f *memFile) Read(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("read", true, false); err != nil {
		return 0, err
	}
	n, err := f.readAt(p, f.off)
	f.off += int64(n)
	if n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads at off, like [os.File.ReadAt].
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("read", true, false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: errNegativeOffset}
	}
	return f.readAt(p, off)
}

func (f *memFile) readAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Write writes at the file's offset (at its end with O_APPEND), like
// [os.File.Write].
func (f *memFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("write", false, true); err != nil {
		return 0, err
	}
	off := f.off
	if f.append {
		off = int64(len(f.n.data))
	}
	if err := f.writeAt(p, off); err != nil {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: err}
	}
	f.off = off + int64(len(p))
	return len(p), nil
}

// WriteAt writes at off, like [os.File.WriteAt]: a vectored write of one
// buffer.
func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	return f.WriteVecAt([][]byte{p}, off)
}

// WriteVecAt writes bufs one after another at off, in one step: a crash
// clone sees all of it or none, but as with WriteAt, which of its blocks
// a simulated power loss keeps is random until Sync.
func (f *memFile) WriteVecAt(bufs [][]byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("write", false, true); err != nil {
		return 0, err
	}
	var err error
	switch {
	case f.append:
		err = errAppendWriteAt
	case off < 0:
		err = errNegativeOffset
	}
	if err != nil {
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: err}
	}
	total := 0
	for _, b := range bufs {
		if err := f.writeAt(b, off+int64(total)); err != nil {
			return total, &fs.PathError{Op: "writeat", Path: f.name, Err: err}
		}
		total += len(b)
	}
	return total, nil
}

// Allocate extends the file with zeros to at least off+n bytes, as
// fallocate(2) mode 0 does; it never shrinks the file or changes its
// bytes. The new size is durable only after Sync.
func (f *memFile) Allocate(off, n int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("allocate", false, true); err != nil {
		return err
	}
	end := off + n
	if off < 0 || n <= 0 || end < off || end > math.MaxInt { // fallocate(2) on Linux
		return &fs.PathError{Op: "allocate", Path: f.name, Err: syscall.EINVAL}
	}
	if end > int64(len(f.n.data)) {
		f.n.setSize(int(end))
		f.n.modTime = f.m.tick()
	}
	return nil
}

// writeAt writes p at off, zero-filling any gap past the end.
func (f *memFile) writeAt(p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	end := off + int64(len(p))
	if end < off || end > math.MaxInt {
		return errFileTooBig
	}
	if end > int64(len(f.n.data)) {
		f.n.setSize(int(end))
	}
	copy(f.n.data[off:], p)
	f.n.changed(int(off), int(end))
	f.n.modTime = f.m.tick()
	return nil
}

// resize returns b with length n, zero-filling any growth.
func resize(b []byte, n int) []byte {
	if n <= len(b) {
		return b[:n]
	}
	old := len(b)
	b = slices.Grow(b, n-old)[:n]
	clear(b[old:]) // the array may hold bytes from before a shrink
	return b
}

// Sync makes the file's current contents durable. On a directory handle it
// makes the directory's entries durable.
func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("sync", false, false); err != nil {
		return err
	}
	if f.n.isDir() {
		f.n.syncedEntries = maps.Clone(f.n.entries)
	} else {
		// Every byte that differs is in the dirty range (a size change
		// marks the bytes between the sizes), except those a failed sync
		// lost, which must stay lost.
		n := f.n
		n.synced = resize(n.synced, len(n.data))
		lo, hi := min(n.dirtyLo, len(n.data)), min(n.dirtyHi, len(n.data))
		copy(n.synced[lo:hi], n.data[lo:hi])
		n.dirtyLo, n.dirtyHi = 0, 0
	}
	return nil
}

// loseUnsynced models a failed fsync: the kernel has given up on the
// file's dirty pages and marked them clean. Reads still see the current
// contents, but what was not durable stays that way, even after a later
// Sync that succeeds: the durable contents take the current size, with the
// changed bytes at their durable values (zeros where the file grew).
func (f *memFile) loseUnsynced() {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	n := f.n
	if n.isDir() {
		return
	}
	n.synced = resize(n.synced, len(n.data))
	n.dirtyLo, n.dirtyHi = 0, 0
}

// Truncate changes the file's size, zero-filling any growth.
func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("truncate", false, false); err != nil {
		return err
	}
	if !f.write || size < 0 || size > math.MaxInt { // ftruncate(2) on Linux
		return &fs.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	f.n.setSize(int(size))
	f.n.modTime = f.m.tick()
	return nil
}

// Size returns the file's current size.
func (f *memFile) Size() (int64, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("stat", false, false); err != nil {
		return 0, err
	}
	return int64(len(f.n.data)), nil
}

// Name returns the name the file was opened with.
func (f *memFile) Name() string { return f.name }

// Close closes the handle; later calls fail with [fs.ErrClosed].
func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("close", false, false); err != nil {
		return err
	}
	f.closed = true
	return nil
}
