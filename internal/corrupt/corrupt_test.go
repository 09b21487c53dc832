// SPDX-License-Identifier: MIT OR Apache-2.0

package corrupt

import (
	"errors"
	"fmt"
	"testing"
)

func TestSentinelsMatchEachOther(t *testing.T) {
	a, b := New("a: corrupt"), New("b: corrupt")
	other := errors.New("a: corrupt")
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"itself", a, a, true},
		{"another package's", a, b, true},
		{"wrapped", fmt.Errorf("open x: %w", b), a, true},
		{"a plain error with the same text", other, a, false},
		{"a sentinel is not any error", a, other, false},
		{"nil target", a, nil, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("%s: errors.Is = %v, want %v", tt.name, got, tt.want)
		}
	}
	if a.Error() != "a: corrupt" {
		t.Errorf("Error() = %q", a.Error())
	}
}
