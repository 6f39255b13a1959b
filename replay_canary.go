package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// Defaults of the canary's options.
const (
	defaultCanaryWait = 30 * time.Second
	defaultAbortAbove = 0.05
)

// ErrReplayAborted is matched by the error of a [Replay] that the canary
// stopped, because too many of the messages it sent came back to the DLQ;
// see [ReplayAbortError].
var ErrReplayAborted = errors.New("dlq: replay aborted: its messages came back to the DLQ")

// ReplayAbortError is the cause of a [Replay] the canary stopped
// (ReplayOptions.Canary): more than AbortAbove of one window's messages
// came back to the watched DLQ, each a new entry carrying
// HeaderReplayOf with the id of an entry this replay sent. Replay returns
// it inside its *ReplayError; it matches ErrReplayAborted.
type ReplayAbortError struct {
	// Window is the window judged: 0 the canary, then 1, 2… for the
	// windows of Canary entries that followed it.
	Window int
	// Size is how many entries the window holds: Canary, or fewer for the
	// last window of a replay.
	Size int
	// Back is how many of the window's entries came back.
	Back int
	// AbortAbove is the share of a window that may come back.
	AbortAbove float64
	// Sent is how many entries the target confirmed before the stop.
	Sent uint64
	// CameBack is how many of the entries this run sent came back, every
	// window together.
	CameBack uint64
	// Ended reports that every entry was sent already: the stop came from
	// the wait for the last window.
	Ended bool
	// Reasons and Fingerprints count what came back by Entry.Reason and by
	// [Fingerprint] of Entry.Error, most frequent first, at most five (ties by value).
	Reasons, Fingerprints []CameBackCount
}

// CameBackCount is how many entries that came back share a reason or a
// fingerprint.
type CameBackCount struct {
	// Value is the reason or the fingerprint.
	Value string
	// Count is how many entries.
	Count int
}

// Error says which window came back, how much of it, and the main
// reasons and fingerprints.
func (e *ReplayAbortError) Error() string {
	var b strings.Builder
	window := "the canary"
	if e.Window > 0 {
		window = fmt.Sprintf("window %d", e.Window)
	}
	fmt.Fprintf(&b, "dlq: replay aborted: %d of the %d entries of %s came back to the DLQ (%s, above %s)",
		e.Back, e.Size, window, percent(float64(e.Back)/float64(e.Size)), percent(e.AbortAbove))
	if e.Ended {
		b.WriteString(", after every entry was sent")
	}
	fmt.Fprintf(&b, "; %d came back of %d sent", e.CameBack, e.Sent)
	for _, part := range []struct {
		name string
		top  []CameBackCount
	}{{"reasons", e.Reasons}, {"fingerprints", e.Fingerprints}} {
		if len(part.top) == 0 {
			continue
		}
		fmt.Fprintf(&b, "; %s:", part.name)
		for i, c := range part.top {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " %q %d", c.Value, c.Count)
		}
	}
	return b.String()
}

// Unwrap returns ErrReplayAborted.
func (e *ReplayAbortError) Unwrap() error { return ErrReplayAborted }

// percent writes a share as a percentage, without trailing zeros.
func percent(share float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", share*100), "0"), ".") + "%"
}

// validateCanary refuses canary options that mean nothing.
func (o *ReplayOptions) validateCanary() error {
	switch {
	case o.Canary < 0:
		return fmt.Errorf("dlq: replay: canary %d is negative", o.Canary)
	case o.CanaryWait < 0:
		return fmt.Errorf("dlq: replay: canary wait %v is negative", o.CanaryWait)
	case o.AbortAbove < 0 || o.AbortAbove > 1 || math.IsNaN(o.AbortAbove):
		return fmt.Errorf("dlq: replay: abort above %v is not a share between 0 and 1", o.AbortAbove)
	}
	return nil
}

// canary watches a replay's messages come back to the DLQ and stops the
// replay when too many of one window's do. The entries the run sends are
// counted in windows of Canary: window 0, the canary, is sent and then
// waited for; each later window is judged while the replay goes on. A
// nil *canary (no Canary, or a dry run) does nothing.
//
// A goroutine follows the watched source from its end and counts, for
// each entry carrying HeaderReplayOf with an id this run sends, one come
// back in the window of that id. The send loop registers a batch's ids
// before it sends them (a consumer may fail on a message and dead-letter
// it before the target confirms the batch) and calls in after each
// confirmed batch; the loop and the goroutine share the counts under mu.
type canary struct {
	n     int
	wait  time.Duration
	above float64

	cancel context.CancelFunc
	done   chan struct{} // closed when the watcher returned
	kick   chan struct{} // a came-back was counted (buffered, never blocks)
	err    error         // why the watcher returned early; read after done

	mu       sync.Mutex
	ids      map[string]int // id sent, not yet back, in a window still held → its window
	windows  []canaryWindow
	held     int // windows before this one had their ids forgotten
	queued   int // entries registered
	sent     int // entries confirmed
	cameBack uint64
	reasons  map[string]uint64
	prints   map[string]uint64
}

// canaryWindow is one window of Canary entries of the run.
type canaryWindow struct {
	ids   []string  // forgotten (nil) twice CanaryWait after full
	count int       // entries registered
	size  int       // its final size once known: Canary, or less for the last
	back  int       // how many of its entries came back
	full  time.Time // when its last entry was confirmed; zero until then
}

// startCanary starts following the watched source (ReplayOptions.Watch,
// or src) from its end and returns once it is there, before anything is
// sent: an entry that comes back is one this run made.
func startCanary(ctx context.Context, opts *ReplayOptions, src string) (*canary, error) {
	if opts.Canary == 0 || opts.DryRun {
		return nil, nil
	}
	c := &canary{n: opts.Canary, wait: cmp.Or(opts.CanaryWait, defaultCanaryWait), above: cmp.Or(opts.AbortAbove, defaultAbortAbove),
		done: make(chan struct{}), kick: make(chan struct{}, 1),
		ids: map[string]int{}, reasons: map[string]uint64{}, prints: map[string]uint64{}}
	watch := cmp.Or(opts.Watch, src)
	caught := make(chan struct{})
	// Last 1: a folder is read from its newest file only, to find where
	// it ends (tail -f's way); what it held is skipped.
	r, err := OpenReader(watch, ReaderOptions{Follow: true, Last: 1, SkipPayload: true, Warn: opts.Warn,
		PollInterval: min(defaultPollInterval, max(c.wait/20, 10*time.Millisecond)), CaughtUp: func() { close(caught) }})
	if err != nil {
		return nil, fmt.Errorf("dlq: replay: watch: %w", err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go c.follow(wctx, r, caught)
	select {
	case <-caught:
		return c, nil
	case <-c.done:
		cancel()
		return nil, fmt.Errorf("dlq: replay: watch %s: %w", watch, cmp.Or(c.err, errors.New("stopped before reaching its end")))
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// follow counts the entries of r that came back, those after its end.
func (c *canary) follow(ctx context.Context, r *Reader, caught chan struct{}) {
	defer close(c.done)
	for rec, err := range r.All(ctx) {
		if err != nil {
			if ctx.Err() == nil {
				c.err = err
			}
			return
		}
		select {
		case <-caught:
			c.back(&rec.Entry)
		default: // held before the replay began
		}
	}
}

// back counts e if it carries the id of an entry this run sent.
func (c *canary) back(e *Entry) {
	id, ok := replayOf(e)
	if !ok {
		return
	}
	c.mu.Lock()
	w, ok := c.ids[id]
	if ok {
		delete(c.ids, id) // a message dead-lettered twice came back once
		c.windows[w].back++
		c.cameBack++
		c.reasons[e.Reason]++
		c.prints[Fingerprint(e.Error)]++
	}
	c.mu.Unlock()
	if ok {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// replayOf returns the id e's HeaderReplayOf header names (its key in any
// case: an HTTP consumer may have canonicalized it), or its metadata key.
func replayOf(e *Entry) (string, bool) {
	for i := len(e.Headers) - 1; i >= 0; i-- {
		if strings.EqualFold(e.Headers[i].Key, HeaderReplayOf) {
			return string(e.Headers[i].Value), true
		}
	}
	id, ok := e.Metadata[HeaderReplayOf]
	return id, ok
}

// sending registers the ids of a batch about to be sent.
func (c *canary) sending(msgs []replayMsg) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		w := c.queued / c.n
		if w == len(c.windows) {
			c.windows = append(c.windows, canaryWindow{size: c.n})
		}
		c.windows[w].ids = append(c.windows[w].ids, m.entry.ID)
		c.windows[w].count++
		c.ids[m.entry.ID] = w
		c.queued++
	}
}

// cut reports whether the messages queued complete the canary (sent of
// the run confirmed, pending to send): the batch goes then, not filled up,
// so that the canary is Canary entries exactly.
func (c *canary) cut(sent uint64, pending int) bool {
	return c != nil && pending > 0 && int(sent)+pending == c.n
}

// confirmed hears that the target confirmed the run's first sent entries.
// When they complete the canary it waits CanaryWait for them to come
// back; either way it judges every window. It returns a
// *ReplayAbortError when one came back above AbortAbove, the watcher's
// failure when it stopped, nil otherwise (ctx ended among them: the
// replay stops for that).
func (c *canary) confirmed(ctx context.Context, sent uint64) error {
	if c == nil {
		return nil
	}
	now := time.Now()
	c.mu.Lock()
	canaryDone := c.sent < c.n && int(sent) >= c.n
	for w := c.sent / c.n; w < len(c.windows) && (w+1)*c.n <= int(sent); w++ {
		c.windows[w].full = now
	}
	c.sent = int(sent)
	c.mu.Unlock()
	if canaryDone {
		return c.await(ctx, now.Add(c.wait), false)
	}
	return c.judge(now, false)
}

// end waits CanaryWait after the last window was confirmed, and judges
// every window: the last, smaller than Canary, by its own size.
func (c *canary) end(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if n := len(c.windows); n > 0 {
		last := &c.windows[n-1]
		last.size = last.count
		if last.full.IsZero() {
			last.full = time.Now()
		}
	}
	var until time.Time
	if n := len(c.windows); n > 0 {
		until = c.windows[n-1].full.Add(c.wait)
	}
	c.mu.Unlock()
	return c.await(ctx, until, true)
}

// await waits until the time given, judging the windows each time one of
// their entries comes back; it returns early on an abort.
func (c *canary) await(ctx context.Context, until time.Time, ended bool) error {
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	for {
		if err := c.judge(time.Now(), ended); err != nil {
			return err
		}
		select {
		case <-timer.C:
			return c.judge(time.Now(), ended)
		case <-c.kick:
		case <-c.done:
			return c.judge(time.Now(), ended)
		case <-ctx.Done():
			return nil
		}
	}
}

// judge returns a *ReplayAbortError when one window came back above
// AbortAbove (a window not yet sent whole or not yet waited for is judged
// by its final size: what came back of it can only grow), the watcher's
// failure when it stopped, nil otherwise. It forgets the ids of the
// windows confirmed twice CanaryWait ago: what comes back later is not
// counted.
func (c *canary) judge(now time.Time, ended bool) error {
	select {
	case <-c.done:
		return fmt.Errorf("dlq: replay: watch: %w", cmp.Or(c.err, errors.New("stopped")))
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.windows {
		win := &c.windows[w]
		if win.back > 0 && float64(win.back)/float64(win.size) > c.above {
			return c.abortError(w, ended)
		}
	}
	for ; c.held < len(c.windows); c.held++ {
		win := &c.windows[c.held]
		if win.full.IsZero() || now.Sub(win.full) < 2*c.wait {
			break
		}
		for _, id := range win.ids {
			delete(c.ids, id)
		}
		win.ids = nil
	}
	return nil
}

// abortError describes window w's abort; c.mu is held.
func (c *canary) abortError(w int, ended bool) *ReplayAbortError {
	win := &c.windows[w]
	return &ReplayAbortError{Window: w, Size: win.size, Back: win.back, AbortAbove: c.above,
		Sent: uint64(c.sent), CameBack: c.cameBack, Ended: ended,
		Reasons: cameBackTop(c.reasons), Fingerprints: cameBackTop(c.prints)}
}

// cameBackTop returns the most frequent values of counts, as
// topCounts (the storm brake's) ranks them.
func cameBackTop(counts map[string]uint64) []CameBackCount {
	top := topCounts(counts)
	out := make([]CameBackCount, len(top))
	for i, c := range top {
		out[i] = CameBackCount{Value: c.Key, Count: int(c.Count)}
	}
	return out
}

// count returns how many of the entries this run sent came back.
func (c *canary) count() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cameBack
}

// stop ends the watcher and waits for it to return.
func (c *canary) stop() {
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
}
