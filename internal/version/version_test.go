package version

import "testing"

func TestBuildID(t *testing.T) {
	for _, c := range []struct {
		in   Info
		want string
	}{
		{Info{Release: "2026.12.1", Revision: "a654ef2623abf7274f741006bb410b5057e1a3fd"}, "2026.12.1"},
		{Info{Revision: "a654ef2623abf7274f741006bb410b5057e1a3fd"}, "a654ef2623ab"},
		{Info{Revision: "a654ef2623abf7274f741006bb410b5057e1a3fd", Modified: true}, "a654ef2623ab+dirty"},
		{Info{Release: " "}, "devel"},
		{Info{}, "devel"},
	} {
		if got := buildID(c.in); got != c.want {
			t.Errorf("buildID(%+v) = %q, want %q", c.in, got, c.want)
		}
	}
}
