// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mini-go/mini/ministate"
)

// Limit is a kind whose JSON is a number (a serde newtype variant).
type Limit int

func (l Limit) Apply(s *Tape) { Push{int(l)}.Apply(s) }

// Reset is a kind without fields (a serde unit variant: "Reset").
type Reset struct{}

func (Reset) Apply(s *Tape) { *s = Tape{} }

// Swap has a pointer receiver: registered as *Swap.
type Swap struct {
	A int `json:"a"`
}

func (w *Swap) Apply(s *Tape) { Push{w.A}.Apply(s) }

func fullRegistry() *ministate.Registry[Tape] {
	reg := tapeRegistry()
	ministate.Register[Limit](reg, "SetLimit")
	ministate.Register[Reset](reg, "")
	ministate.Register[*Swap](reg, "")
	return reg
}

func TestRegistryDecode(t *testing.T) {
	reg := fullRegistry()
	for _, tc := range []struct {
		in   string
		want ministate.Mutator[Tape]
		err  string // substring of the error; "" for success
	}{
		{`{"Push":{"v":1}}`, Push{1}, ""},
		{" \t{ \"Push\" :\n{\"v\":2} }\r\n", Push{2}, ""},
		{`{"PushNew":{"v":3}}`, PushNew{3}, ""},
		{`{"SetLimit":5}`, Limit(5), ""},
		{`{"Reset":{}}`, Reset{}, ""},
		{`"Reset"`, Reset{}, ""},
		{`{"Reset":null}`, Reset{}, ""},
		{`{"Swap":{"a":7}}`, &Swap{7}, ""},
		{`"Swap"`, &Swap{}, ""},
		{`{"Pu\u0073h":{"v":8}}`, Push{8}, ""},
		{`{"Pop":{}}`, nil, "unknown mutation kind"},
		{`"Pop"`, nil, "unknown mutation kind"},
		{`{}`, nil, `want {"Kind":value}`},
		{`{"Push":{"v":1},"Reset":{}}`, nil, "invalid character ','"},
		{`{"Push":{"v":1}}}`, nil, "invalid character"},
		{`{"Push":{"v":1}`, nil, "unexpected end of JSON"},
		{`{"Push":}`, nil, "bad record"},
		{`{"Push"}`, nil, "bad record"},
		{`{"Push":{"v":"x"}}`, nil, "cannot unmarshal"},
		{`[{"Push":{"v":1}}]`, nil, "bad record"},
		{`42`, nil, "bad record"},
		{``, nil, "empty record"},
		{`{"Pu\x01sh":{}}`, nil, "bad record kind"},
		{`{"Push\":1}`, nil, "bad record"},
	} {
		got, err := reg.Decode([]byte(tc.in))
		if tc.err == "" {
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decode(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Decode(%q) = %#v, %v; want an error containing %q", tc.in, got, err, tc.err)
		}
	}
}

func TestRegistryEncode(t *testing.T) {
	reg := fullRegistry()
	for _, tc := range []struct {
		in   ministate.Mutator[Tape]
		want string
	}{
		{Push{1}, `{"Push":{"v":1}}`},
		{Limit(5), `{"SetLimit":5}`},
		{Reset{}, `{"Reset":{}}`},
		{&Swap{2}, `{"Swap":{"a":2}}`},
	} {
		got, err := reg.Encode(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("Encode(%#v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
		back, err := reg.Decode(got)
		if err != nil || !reflect.DeepEqual(back, tc.in) {
			t.Errorf("Decode(Encode(%#v)) = %#v, %v", tc.in, back, err)
		}
	}
	if _, err := reg.Encode(Boom{}); !errors.Is(err, ministate.ErrUnknownKind) {
		t.Errorf("Encode of an unregistered type = %v", err)
	}
	if _, err := reg.Encode(nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}
	if want := []string{"Push", "PushNew", "Reset", "SetLimit", "Swap"}; !slices.Equal(reg.Kinds(), want) {
		t.Errorf("Kinds = %v, want %v", reg.Kinds(), want)
	}
}

func TestRegisterPanics(t *testing.T) {
	for name, fn := range map[string]func(){
		"same name twice": func() {
			reg := ministate.NewRegistry[Tape]()
			ministate.Register[Push](reg, "P")
			ministate.Register[PushNew](reg, "P")
		},
		"same type twice": func() {
			reg := ministate.NewRegistry[Tape]()
			ministate.Register[Push](reg, "A")
			ministate.Register[Push](reg, "B")
		},
		"control character": func() {
			ministate.Register[Push](ministate.NewRegistry[Tape](), "a\nb")
		},
		"invalid UTF-8": func() {
			ministate.Register[Push](ministate.NewRegistry[Tape](), "a\xffb")
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			fn()
		})
	}
}

func TestRecordCodec(t *testing.T) {
	for _, tc := range []struct {
		ms   []Push
		want string
	}{
		{[]Push{{1}}, `{"v":1}`},
		{[]Push{{1}, {2}}, `[{"v":1},{"v":2}]`},
	} {
		p, err := ministate.EncodeRecord[Tape](nil, tc.ms)
		if err != nil || string(p) != tc.want {
			t.Errorf("EncodeRecord(%v) = %s, %v; want %s", tc.ms, p, err, tc.want)
		}
		back, err := ministate.DecodeRecord[Tape, Push](nil, p)
		if err != nil || !slices.Equal(back, tc.ms) {
			t.Errorf("DecodeRecord(%s) = %v, %v", p, back, err)
		}
	}
	for _, bad := range []string{``, `null`, `[]`, `[null]`, `[{"v":1},]`, `{"v":"x"}`, `[1]`} {
		if ms, err := ministate.DecodeRecord[Tape, Push](nil, []byte(bad)); err == nil {
			t.Errorf("DecodeRecord(%q) = %v, want an error", bad, ms)
		}
	}
	if _, err := ministate.EncodeRecord[Tape, *Swap](nil, []*Swap{nil}); err == nil {
		t.Error("a nil pointer mutation was encoded")
	}
}
