package editdist

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDistance(t *testing.T) {
	for _, test := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"group-by", "group-by", 0},
		{"grup-by", "group-by", 1},
		{"", "top", 3},
		{"kitten", "sitting", 3},
		{"max_size", "max_age", 3},
	} {
		assert.Equal(t, test.want, Distance(test.a, test.b), "%q vs %q", test.a, test.b)
		assert.Equal(t, test.want, Distance(test.b, test.a), "%q vs %q", test.b, test.a)
	}
}
