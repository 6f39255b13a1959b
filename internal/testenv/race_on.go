//go:build race

package dlq

const raceEnabled = true
