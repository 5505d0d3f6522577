package rules

import "testing"

func TestUnicodeFormat(t *testing.T) {
	for _, c := range []struct {
		f    string
		want bool
	}{
		{"name %wZ\n", true},
		{"%ws", true},
		{"%ls and more", true},
		{"%-10S|", true},
		{"%C", true},
		{"%lc", true},
		{"%wc", true},
		{"%Z %s %d %x %p %I64x %hs", false},
		{"100%% done: %s", false},
		{"%%wZ is how you print a UNICODE_STRING", false},
		{"trailing %", false},
		{"", false},
	} {
		if got := unicodeFormat([]byte(c.f)); got != c.want {
			t.Errorf("unicodeFormat(%q) = %v, want %v", c.f, got, c.want)
		}
	}
}
