// SPDX-License-Identifier: MIT OR Apache-2.0

package backup

// Progress counts the bytes of one backup call for the caller's callback
// (the Options.BackupProgress of the packages). A nil *Progress counts
// nothing, so code without a callback passes nil. It is used by the one
// goroutine that runs the backup.
//
// The callback gets done, the bytes written into the copy so far, and
// total, done plus the bytes noted (files whose copy is next) and not yet
// copied. total grows as the backup notes the files of each part (a
// snapshot, each journal), and both fall back when a live copy starts a
// part again; when the copy is whole, done equals total.
type Progress struct {
	fn                func(done, total int64)
	done, pending     int64
	subDone, subTotal int64 // the last report of the nested backup, see Nested
}

// NewProgress returns a Progress reporting to fn, or nil if fn is nil.
func NewProgress(fn func(done, total int64)) *Progress {
	if fn == nil {
		return nil
	}
	return &Progress{fn: fn}
}

// Note adds n bytes about to be copied to the total, and reports.
func (p *Progress) Note(n int64) {
	if p == nil {
		return
	}
	p.fold()
	p.pending += n
	p.report()
}

// copied counts n bytes written into the copy.
func (p *Progress) copied(n int64) {
	if p == nil {
		return
	}
	p.fold()
	p.done += n
	p.pending = max(0, p.pending-n)
	p.report()
}

// Rewind returns a function that puts the counts back to where they are
// now, and reports: for a part of the copy that starts again after its
// files were removed.
func (p *Progress) Rewind() func() {
	if p == nil {
		return func() {}
	}
	p.fold()
	done, pending := p.done, p.pending
	return func() {
		p.done, p.pending, p.subDone, p.subTotal = done, pending, 0, 0
		p.report()
	}
}

// Nested returns the callback for a backup made by another package's call
// as a part of this one (the journal of a state directory): its figures
// are reported on top of this Progress's. Nil for a nil Progress.
func (p *Progress) Nested() func(done, total int64) {
	if p == nil {
		return nil
	}
	p.fold()
	return func(done, total int64) {
		p.subDone, p.subTotal = done, total
		p.report()
	}
}

// A Sink forwards the BackupProgress reports of a journal Store to the
// Backup in progress of the package that owns the Store: Fn is set (to a
// Progress's Nested) and cleared around the Store's BackupTo, under the
// owner's lock, and called from within it.
type Sink struct{ Fn func(done, total int64) }

// Progress returns the Store's BackupProgress option: nil when the owner
// has no callback (user).
func (s *Sink) Progress(user func(done, total int64)) func(done, total int64) {
	if user == nil {
		return nil
	}
	return func(done, total int64) {
		if s.Fn != nil {
			s.Fn(done, total)
		}
	}
}

// fold adds the nested backup's bytes copied to done, before this
// Progress counts on its own again.
func (p *Progress) fold() {
	p.done += p.subDone
	p.subDone, p.subTotal = 0, 0
}

func (p *Progress) report() {
	done := p.done + p.subDone
	p.fn(done, done+p.pending+max(0, p.subTotal-p.subDone))
}
