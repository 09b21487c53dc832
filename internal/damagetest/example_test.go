// SPDX-License-Identifier: MIT OR Apache-2.0

package damagetest_test

import (
	"fmt"

	"github.com/mini-go/mini/internal/damagetest"
)

func ExampleVariants() {
	good := []byte("ab\ncd\n")
	var c damagetest.Counter
	for v := range damagetest.Variants(good, &damagetest.Options{Kinds: []string{damagetest.KindTruncate, damagetest.KindCRLFAll}}) {
		// A reader would be run on v.Data here; this one calls every
		// variant that still ends in a newline intact.
		class := damagetest.TypedError
		if len(v.Data) > 0 && v.Data[len(v.Data)-1] == '\n' {
			class = damagetest.Intact
		}
		c.Add(class, v)
	}
	fmt.Println(c.String())
	// Output: 7 variants: typed error 5, intact 2
}
