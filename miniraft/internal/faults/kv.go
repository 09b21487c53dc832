// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

// KV is the replicated state the node processes run: per key, the list of
// values appended to it, in the order the cluster applied them. Values are
// unique in a run, so the final state tells, for every write, whether it
// was applied and how many times.
type KV struct {
	Lists map[string][]string `json:"lists"`
}

// Append is the only mutation: it appends Val to the list of Key.
type Append struct {
	Key string `json:"k"`
	Val string `json:"v"`
}

// Apply appends a.Val to the list of a.Key.
func (a Append) Apply(s *KV) {
	if s.Lists == nil {
		s.Lists = map[string][]string{}
	}
	s.Lists[a.Key] = append(s.Lists[a.Key], a.Val)
}
