package dlq

import (
	"errors"
	"sync/atomic"
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
	// the window passes it, once the window holds MinEvents events. From 0
	// to 1; 0 turns the ratio test off (and 1 can never be passed).
	MaxRatio float64 `json:"max_ratio" yaml:"max_ratio"`
	// MinEvents is how many events (dead letters and Ok) the window must
	// hold before the ratio counts. Defaults to 100.
	MinEvents int `json:"min_events" yaml:"min_events"`
	// WindowMS is the window's length in milliseconds: the ratio is over
	// the events of the last WindowMS. At least 100, at most 86400000 (a
	// day). Defaults to 60000.
	WindowMS int `json:"window_ms" yaml:"window_ms"`
	// MaxConsecutive also trips the brake after this many dead letters in a
	// row with no Ok between them, at the Send that makes the run that
	// long. 0 turns it off.
	MaxConsecutive int `json:"max_consecutive" yaml:"max_consecutive"`
	// Action is refuse or signal. Defaults to refuse.
	Action StormAction `json:"action" yaml:"action"`
	// CoolDownMS is how long, in milliseconds, the brake stays tripped
	// before it lets entries through again; it trips again at once if the
	// failures go on. At most 86400000 (a day). Defaults to 30000.
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
	// Consecutive is the run of dead letters with no Ok between them: on a
	// trip by MaxConsecutive the run that tripped it, otherwise the run as
	// it stands. Runs are counted only with MaxConsecutive set; 0 without.
	Consecutive uint64
	// TopReasons and TopFingerprints are the 5 most frequent entry
	// reasons and error fingerprints (Fingerprint of Entry.Error) among the
	// last 256 dead letters the drain took off the queue when the event was
	// made, largest first; entries without a reason or an error are left
	// out of that count. Entries the brake refused are not among them.
	TopReasons, TopFingerprints []StormCount
}

// StormCount is one reason or fingerprint of a StormEvent and how many of
// the recent dead letters had it.
type StormCount struct {
	Key   string
	Count uint64
}

// brake is the storm brake's state that senders touch: whether it is
// tripped, the Ok count and where the current run of dead letters began.
// The dead-letter total is the admission counter every Send adds to anyway
// (admissionCounters.state), so a Send with the brake on adds no write of
// its own: a load of tripped (refuse), and with MaxConsecutive a load of
// runStart. The window, the trips and the clears are the brake goroutine's
// (storm_brake.go).
type brake struct {
	// Read by every Send (refuse) and written only when the brake trips
	// or clears: a line of its own, so that Ok's writes do not evict it.
	tripped atomic.Bool
	refuse  bool   // Action is refuse
	maxRun  uint64 // MaxConsecutive; 0 leaves runs uncounted
	_       [48]byte

	ok atomic.Uint64 // Ok calls
	_  [56]byte

	// runStart is the dead-letter total at the latest Ok (MaxConsecutive
	// only): the run is the total minus it. Ok moves it forward only.
	runStart atomic.Uint64
	// tripRun is the run that tripped the brake in a Send, for the event.
	tripRun atomic.Uint64
	_       [48]byte

	trips  atomic.Uint64 // times the brake tripped, as its goroutine saw them
	ticks  atomic.Uint64 // the goroutine's looks at the counts (tests wait on it)
	recent recentLetters // the last dead letters the drain took

	cfg     StormConfig // with its defaults
	onStorm func(StormEvent)
	started bool          // New started the goroutine; Close stops it
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the goroutine has returned
}

// on reports whether s turns the storm brake on.
func (s StormConfig) on() bool { return s.MaxRatio > 0 || s.MaxConsecutive > 0 }

// newBrake returns the brake cfg configures, or nil when it is off.
func newBrake(cfg *Config) *brake {
	if !cfg.Storm.on() {
		return nil
	}
	return &brake{
		refuse:  cfg.Storm.Action == StormRefuse,
		maxRun:  uint64(cfg.Storm.MaxConsecutive),
		cfg:     cfg.Storm,
		onStorm: cfg.OnStorm,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// enterBraked is enter with the storm brake on. A tripped brake with
// action refuse turns the Send away before it enters, as Disabled does, so
// the admission invariant holds; after Close begins the Send is counted
// closed instead. A Send that enters is a dead letter: the admission count
// it adds is the brake's total, and with MaxConsecutive the Send that
// makes the run long enough trips the brake itself, so that a run followed
// at once by an Ok still trips.
func (o *Orchestrator) enterBraked(e *Entry) (refusal error, ok bool) {
	b := o.brake
	if b.refuse && b.tripped.Load() && o.admission.state.Load()&closedBit == 0 {
		o.admission.storm.Add(1)
		return ErrStorm, false
	}
	total := o.admission.state.Add(1)
	if total&closedBit != 0 {
		o.admission.closed.Add(1)
		return ErrClosed, false
	}
	if b.maxRun > 0 {
		b.deadLetter(total)
	}
	o.fill(e)
	return nil, true
}

// deadLetter trips the brake when the dead letter that made the total
// ends a run of MaxConsecutive. runStart may be ahead of total when an Ok
// read a later total: then the run is 0.
func (b *brake) deadLetter(total uint64) {
	start := b.runStart.Load()
	if total > start && total-start >= b.maxRun && !b.tripped.Load() {
		b.tripRun.Store(total - start)
		b.tripped.Store(true)
	}
}

// run returns the dead letters since the latest Ok, out of total; 0
// without MaxConsecutive, which alone has Ok keep runStart.
func (b *brake) run(total uint64) uint64 {
	if start := b.runStart.Load(); b.maxRun > 0 && total > start {
		return total - start
	}
	return 0
}

// Ok counts one message processed without a dead letter: the storm brake's
// denominator, and the end of a run of dead letters. It is an atomic add
// (and with MaxConsecutive set, a load, plus a store after a dead letter),
// without allocation, safe from any goroutine; without a storm brake
// configured it does nothing that costs. Call it for every message the
// consumer processed, so that the ratio compares like with like.
func (o *Orchestrator) Ok() {
	b := o.brake
	if b == nil {
		return
	}
	b.ok.Add(1)
	if b.maxRun > 0 {
		total := o.admission.state.Load() &^ closedBit
		for {
			start := b.runStart.Load()
			if start >= total || b.runStart.CompareAndSwap(start, total) {
				return
			}
		}
	}
}

// Storm reports whether the storm brake is tripped: with action refuse,
// Send and SendContext return ErrStorm while it is. It is false when no
// brake is configured. Safe from any goroutine, also after Close, which
// leaves it as it was.
func (o *Orchestrator) Storm() bool {
	return o.brake != nil && o.brake.tripped.Load()
}
