package miniqueue

import (
	"github.com/mini-go/mini/ministore"
)

// segmentBases returns the first sequence number of every segment of a
// ministore journal, in ascending order.
//
// The queue cuts its journals only at these points, so that ministore's
// TruncateFront deletes whole files and never copies records; and only at
// a point at or below the journal's last record, so that a journal never
// becomes empty.
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

// cutPoint returns the greatest base in bases that is at most limit, or 0.
func cutPoint(bases []uint64, limit uint64) uint64 {
	var t uint64
	for _, b := range bases {
		if b <= limit {
			t = b
		}
	}
	return t
}
