package dlq

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// The storm brake's goroutine. Senders only count (storm.go); here, on a
// ticker, the counts since the last look go into a ring of time buckets
// covering the window, and the brake trips, announces a trip a Send made,
// or clears after its cool-down.

// Sizes of the brake's work: the window is at most maxStormBuckets
// buckets, looked at every tenth of it but at least every 100 ms; an event
// names the stormTop most frequent reasons and fingerprints among the last
// recentLetterCount dead letters.
const (
	maxStormTick      = 100 * time.Millisecond
	maxStormBuckets   = 600
	recentLetterCount = 256
	stormTop          = 5
)

// stormTick is how often the brake looks at the counts for a window.
func stormTick(window time.Duration) time.Duration { return min(maxStormTick, window/10) }

// stormWindow is the ring of buckets of dead letters and Ok counts, each
// bucket a slice of clock time; the ring covers the window.
type stormWindow struct {
	width    time.Duration // one bucket's time
	dead, ok []uint64
	sumDead  uint64 // over the ring
	sumOk    uint64
	head     int64 // the newest bucket's number: clock time / width
	started  bool
	seenDead uint64 // the totals at the last look
	seenOk   uint64
}

func newStormWindow(window time.Duration) stormWindow {
	n := int(min(int64(maxStormBuckets), max(1, int64(window/stormTick(window)))))
	return stormWindow{
		width: max(time.Nanosecond, window/time.Duration(n)),
		dead:  make([]uint64, n),
		ok:    make([]uint64, n),
	}
}

// add moves the ring to now, emptying the buckets that fell out of the
// window, and puts what the totals grew by since the last look into the
// newest bucket. A clock that stepped back keeps the newest bucket.
func (w *stormWindow) add(now time.Time, dead, ok uint64) {
	bucket := now.UnixNano() / int64(w.width)
	if !w.started {
		w.head, w.started = bucket, true
	}
	if steps := bucket - w.head; steps > 0 {
		for i := range min(steps, int64(len(w.dead))) {
			slot := w.slot(w.head + 1 + i)
			w.sumDead -= w.dead[slot]
			w.sumOk -= w.ok[slot]
			w.dead[slot], w.ok[slot] = 0, 0
		}
		w.head = bucket
	}
	slot := w.slot(w.head)
	newDead, newOk := dead-w.seenDead, ok-w.seenOk
	w.dead[slot] += newDead
	w.ok[slot] += newOk
	w.sumDead += newDead
	w.sumOk += newOk
	w.seenDead, w.seenOk = dead, ok
}

// slot is bucket number n's place in the ring, for any n, before 1970 too.
func (w *stormWindow) slot(n int64) int {
	size := int64(len(w.dead))
	return int((n%size + size) % size)
}

// ratio is dead letters ÷ (dead letters + Ok) over the window, 0 when it
// is empty.
func (w *stormWindow) ratio() float64 {
	if events := w.sumDead + w.sumOk; events > 0 {
		return float64(w.sumDead) / float64(events)
	}
	return 0
}

// brakeLoop is the state of the brake goroutine; nothing else touches it.
type brakeLoop struct {
	o         *Orchestrator
	b         *brake
	window    stormWindow
	announced bool      // the trip now on was announced
	since     time.Time // when it was, by the brake's clock
	// deadAtClear is the dead-letter total at the last clear: the ratio
	// trips only on a window that gained a dead letter since.
	deadAtClear uint64
	letters     []recentLetter // scratch for an event's tops
	// clock is the brake's own time, which never goes back: the first
	// look's time plus what the clock moved forward between looks. A clock
	// that steps back (the system's wall clock, a Config.Clock without a
	// monotonic reading) moves it by nothing, so that neither the window
	// stops moving nor a cool-down waits for the clock to come back.
	clock, last time.Time
}

// tick returns the brake's time at the clock's reading now.
func (l *brakeLoop) tick(now time.Time) time.Time {
	switch {
	case l.last.IsZero():
		l.clock = now
	case now.Sub(l.last) > 0:
		l.clock = l.clock.Add(now.Sub(l.last))
	}
	l.last = now
	return l.clock
}

// runBrake is the brake goroutine, started by New and stopped by Close.
func (o *Orchestrator) runBrake() {
	b := o.brake
	defer close(b.done)
	l := &brakeLoop{o: o, b: b, window: newStormWindow(ms(b.cfg.WindowMS))}
	t := time.NewTicker(stormTick(ms(b.cfg.WindowMS)))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.look(o.clock())
			b.ticks.Add(1)
		case <-b.stop:
			return
		}
	}
}

// stopBrake stops the brake goroutine, if New started one, and waits for
// it (and an OnStorm call it is in) to return.
func (o *Orchestrator) stopBrake() {
	if b := o.brake; b != nil && b.started {
		close(b.stop)
		<-b.done
	}
}

// look is one look at the counts at now: the window takes them in, the
// brake trips on the ratio, a trip (by ratio or by a Send's run) is
// announced, and a trip announced CoolDownMS ago clears.
func (l *brakeLoop) look(now time.Time) {
	b, cfg := l.b, &l.b.cfg
	at := l.tick(now)
	dead := l.o.admission.state.Load() &^ closedBit
	l.window.add(at, dead, b.ok.Load())
	ratio := l.window.ratio()
	consecutive := b.tripRun.Load() // the run of a Send that tripped it
	if !b.tripped.Load() && cfg.MaxRatio > 0 && ratio > cfg.MaxRatio &&
		l.window.sumDead+l.window.sumOk >= uint64(cfg.MinEvents) && dead > l.deadAtClear {
		b.tripped.Store(true)
		consecutive = b.run(dead)
	}
	switch {
	case b.tripped.Load() && !l.announced:
		l.announced, l.since = true, at
		b.trips.Add(1)
		l.o.cfg.Logger.Warn("dlq: storm brake tripped", "ratio", ratio,
			"dead_letters", l.window.sumDead, "ok", l.window.sumOk, "consecutive", consecutive,
			"action", string(cfg.Action), "cool_down_ms", cfg.CoolDownMS)
		l.emit(true, now, ratio, consecutive)
	case l.announced && at.Sub(l.since) >= ms(cfg.CoolDownMS):
		l.announced = false
		l.deadAtClear = dead
		b.tripRun.Store(0)
		b.tripped.Store(false)
		l.o.cfg.Logger.Info("dlq: storm brake cleared", "ratio", ratio,
			"dead_letters", l.window.sumDead, "ok", l.window.sumOk)
		l.emit(false, now, ratio, b.run(dead))
	}
}

// emit hands Config.OnStorm the event, with the tops of the recent dead
// letters worked out now: never on Send's path.
func (l *brakeLoop) emit(tripped bool, now time.Time, ratio float64, consecutive uint64) {
	if l.b.onStorm == nil {
		return
	}
	l.letters = l.b.recent.copyTo(l.letters[:0])
	reasons, fingerprints := stormTops(l.letters)
	l.b.onStorm(StormEvent{
		Tripped:         tripped,
		At:              now,
		Ratio:           ratio,
		DeadLetters:     l.window.sumDead,
		Ok:              l.window.sumOk,
		Consecutive:     consecutive,
		TopReasons:      reasons,
		TopFingerprints: fingerprints,
	})
}

// recentLetter is what an event's tops need of a dead letter: its reason
// and error, the Entry's own strings (headers only, no copy).
type recentLetter struct{ reason, err string }

// recentLetters is a ring of the last recentLetterCount dead letters the
// drain took off the queue (entries the brake refused never get there).
// The drain publishes them in bursts; the brake goroutine copies them out
// when it emits an event.
type recentLetters struct {
	mu   sync.Mutex
	ring [recentLetterCount]recentLetter
	next uint64 // letters ever put: the next one's slot, modulo the ring
}

// put appends letters to the ring, the oldest falling out.
func (r *recentLetters) put(letters []recentLetter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range letters {
		r.ring[r.next%recentLetterCount] = l
		r.next++
	}
}

// copyTo appends the letters in the ring to dst.
func (r *recentLetters) copyTo(dst []recentLetter) []recentLetter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(dst, r.ring[:min(r.next, recentLetterCount)]...)
}

// noteLetter keeps e's reason and error for the storm brake's events; the
// drain calls it for each entry it takes off the queue when the brake is
// on, and publishes them with publishLetters once it has taken what was
// queued (takeQueued) and before it writes a batch (writePending).
func (d *drain) noteLetter(e *Entry) {
	d.letters = append(d.letters, recentLetter{reason: e.Reason, err: e.Error})
	if len(d.letters) == recentLetterCount {
		d.publishLetters()
	}
}

// publishLetters puts the noted letters in the brake's ring.
func (d *drain) publishLetters() {
	if len(d.letters) > 0 {
		d.o.brake.recent.put(d.letters)
		clear(d.letters) // drop the strings: the ring holds them now
		d.letters = d.letters[:0]
	}
}

// stormTops counts the letters' reasons and error fingerprints and returns
// the stormTop most frequent of each, largest first, ties by key. Letters
// without a reason, or without an error, are left out of that count.
func stormTops(letters []recentLetter) (reasons, fingerprints []StormCount) {
	byReason, byPrint := map[string]uint64{}, map[string]uint64{}
	for _, l := range letters {
		if l.reason != "" {
			byReason[l.reason]++
		}
		if l.err != "" {
			byPrint[Fingerprint(l.err)]++
		}
	}
	return topCounts(byReason), topCounts(byPrint)
}

// topCounts returns the stormTop largest counts, largest first, ties by
// key; nil when there are none.
func topCounts(counts map[string]uint64) []StormCount {
	var out []StormCount
	for k, n := range counts {
		out = append(out, StormCount{Key: k, Count: n})
	}
	slices.SortFunc(out, func(a, b StormCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	return out[:min(len(out), stormTop)]
}
