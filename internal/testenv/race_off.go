//go:build !race

package testenv

// RaceEnabled reports whether the tests run under the race detector, which
// allocates: allocation tests skip under it.
const RaceEnabled = false
