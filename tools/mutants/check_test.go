package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A run pattern is stale when no test of the package matches its top-level
// part, as go test -run matches it.
func TestNamesATest(t *testing.T) {
	names := []string{"TestFileRotate", "TestPowerLossSync", "ExampleNew"}
	for _, test := range []struct {
		run  string
		want bool
	}{
		{"^TestFileRotate$", true},
		{"TestPowerLoss|TestGone", true},
		{"^TestFileRotate$/gzip", true},
		{"^TestGone$", false},
		{"^TestFile$", false},
		{"(", false},
	} {
		assert.Equal(t, test.want, namesATest(test.run, names), test.run)
	}
}
