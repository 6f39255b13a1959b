//go:build !race

package dlq

const raceEnabled = false
