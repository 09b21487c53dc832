// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"github.com/mini-go/mini/internal/backup"
	"github.com/mini-go/mini/ministore"
)

// segmentBases returns the first sequence number of every segment of a
// ministore journal, in ascending order: a cut past one of them frees a
// file.
func segmentBases(s interface {
	Segments() []ministore.SegmentInfo
}) []uint64 {
	segs := s.Segments()
	bases := make([]uint64, len(segs))
	for i, seg := range segs {
		bases[i] = seg.FirstSeq
	}
	return bases
}

// journalExists reports whether any file of a ministore journal exists.
var journalExists = backup.JournalExists
