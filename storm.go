package dlq

import (
	"errors"
	"time"
)

// ErrStorm is returned by Send and SendContext while the storm brake is
// tripped with action refuse: the entry is not accepted (counted in
// Stats.DroppedBy under ReasonStorm), and the caller keeps the message in
// its source and does not commit past it.
var ErrStorm = errors.New("dlq: storm brake tripped")

// ReasonStorm: the storm brake refused the entry (Stats.DroppedBy).
const ReasonStorm = "storm"

// StormAction is what the tripped storm brake does to new entries.
type StormAction string

// The storm brake's actions.
const (
	// StormRefuse makes Send and SendContext return ErrStorm while tripped.
	StormRefuse StormAction = "refuse"
	// StormSignal accepts entries as before and only signals (Storm,
	// Config.OnStorm, Stats, metrics).
	StormSignal StormAction = "signal"
)

// StormConfig configures the storm brake: a limit on the share of messages
// that are dead-lettered, so that a bad deploy pauses the consumer instead
// of copying the whole source topic into the DLQ. The brake is off unless
// MaxRatio or MaxConsecutive is set.
type StormConfig struct {
	// MaxRatio trips the brake when dead letters ÷ (dead letters + Ok) over
	// the window passes it, once the window holds MinEvents events. Between
	// 0 and 1; 0 turns the ratio test off.
	MaxRatio float64 `json:"max_ratio" yaml:"max_ratio"`
	// MinEvents is how many events (dead letters and Ok) the window must
	// hold before the ratio counts. Defaults to 100.
	MinEvents int `json:"min_events" yaml:"min_events"`
	// WindowMS is the window's length in milliseconds. Defaults to 60000.
	WindowMS int `json:"window_ms" yaml:"window_ms"`
	// MaxConsecutive also trips the brake after this many dead letters in a
	// row with no Ok between them. 0 turns it off.
	MaxConsecutive int `json:"max_consecutive" yaml:"max_consecutive"`
	// Action is refuse or signal. Defaults to refuse.
	Action StormAction `json:"action" yaml:"action"`
	// CoolDownMS is how long, in milliseconds, the brake stays tripped
	// before it lets entries through again; it trips again at once if the
	// failures go on. Defaults to 30000.
	CoolDownMS int `json:"cool_down_ms" yaml:"cool_down_ms"`
}

// StormEvent describes the storm brake tripping or clearing: what
// Config.OnStorm receives.
type StormEvent struct {
	// Tripped is true when the brake trips, false when it clears.
	Tripped bool
	// At is when it happened, by Config.Clock.
	At time.Time
	// Ratio is dead letters ÷ (dead letters + Ok) over the window.
	Ratio float64
	// DeadLetters and Ok are the window's counts.
	DeadLetters, Ok uint64
	// Consecutive is the run of dead letters with no Ok since the last Ok.
	Consecutive uint64
	// TopReasons and TopFingerprints are the most frequent entry reasons
	// and error fingerprints (Fingerprint) among the window's recent dead
	// letters, largest first.
	TopReasons, TopFingerprints []StormCount
}

// StormCount is one reason or fingerprint of a StormEvent and how many of
// the recent dead letters had it.
type StormCount struct {
	Key   string
	Count uint64
}

// Ok counts one message processed without a dead letter: the storm brake's
// denominator. It is an atomic add, without allocation, safe from any
// goroutine; without a storm brake configured it does nothing that costs.
func (o *Orchestrator) Ok() {
	// TODO(issue 22): the storm brake's accounting.
}

// Storm reports whether the storm brake is tripped.
func (o *Orchestrator) Storm() bool {
	return false // TODO(issue 22)
}
