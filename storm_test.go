package dlq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stormDLQ is an Orchestrator with a storm brake over a file backend in a
// temporary folder, on a clock the test moves, with its OnStorm events on a
// channel.
type stormDLQ struct {
	*Orchestrator
	dir    string
	clock  *fakeClock
	events chan StormEvent
}

func newStormDLQ(t *testing.T, storm StormConfig) *stormDLQ {
	t.Helper()
	s := &stormDLQ{
		dir:    t.TempDir(),
		clock:  newFakeClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)),
		events: make(chan StormEvent, 100),
	}
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: s.dir}, Storm: storm,
		Clock: s.clock.Now, Logger: discardLogger(),
		OnStorm: func(ev StormEvent) { s.events <- ev }})
	require.NoError(t, err)
	s.Orchestrator = o
	t.Cleanup(func() { closeOK(t, o) })
	return s
}

// fail sends n dead letters, each of which must be accepted.
func (s *stormDLQ) fail(t *testing.T, n int, reason string) {
	t.Helper()
	for i := range n {
		require.NoError(t, s.Send(Entry{Reason: reason, Error: fmt.Sprintf("bad record %d", i)}), "dead letter %d of %d", i, n)
	}
}

// ok counts n messages processed.
func (s *stormDLQ) ok(n int) {
	for range n {
		s.Ok()
	}
}

// settle waits until the brake has looked at the counts twice more, so
// that everything counted before the call has been seen by a whole look.
func (s *stormDLQ) settle(t *testing.T) {
	t.Helper()
	from := s.brake.ticks.Load()
	waitFor(t, "two more looks of the storm brake", func() bool { return s.brake.ticks.Load() >= from+2 })
}

// event waits for the next OnStorm event.
func (s *stormDLQ) event(t *testing.T, what string) StormEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case ev := <-s.events:
		return ev
	case <-ctx.Done():
		t.Fatalf("no OnStorm event (%s) within 30 s; Stats: %+v", what, s.Stats())
		return StormEvent{}
	}
}

// noEvent requires that no OnStorm event came.
func (s *stormDLQ) noEvent(t *testing.T, why string) {
	t.Helper()
	select {
	case ev := <-s.events:
		t.Fatalf("%s, yet OnStorm got %+v", why, ev)
	default:
	}
}

func TestStormBrakeIsOffByDefault(t *testing.T) {
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: t.TempDir()}, Logger: discardLogger(),
		Storm: StormConfig{MinEvents: 1, WindowMS: 100, Action: StormRefuse, CoolDownMS: 1}})
	require.NoError(t, err)
	defer closeOK(t, o)
	assert.Nil(t, o.brake, "min_events, window, action and cool-down alone turn nothing on")
	for i := range 500 {
		o.Ok()
		require.NoError(t, o.Send(Entry{Reason: "parse_error", Payload: fmt.Appendf(nil, "%d", i)}))
	}
	flushOK(t, o)
	assert.False(t, o.Storm())
	s := o.Stats()
	assert.False(t, s.StormTripped)
	assert.Zero(t, s.StormTrips)
	assert.Equal(t, uint64(500), s.Written)
}

// TestStormNoFalseTrip: 1% failures over 100,000 messages never trip a
// brake at ratio 0.5, nor one at 2 consecutive.
func TestStormNoFalseTrip(t *testing.T) {
	s := newStormDLQ(t, StormConfig{MaxRatio: 0.5, MinEvents: 100, MaxConsecutive: 2})
	for i := range 100_000 {
		if i%100 == 99 {
			s.fail(t, 1, "parse_error")
			continue
		}
		s.Ok()
	}
	s.settle(t)
	assert.False(t, s.Storm())
	s.noEvent(t, "1% failures")
	st := s.Stats()
	assert.Zero(t, st.StormTrips)
	assert.Equal(t, uint64(1000), st.Accepted)
	assert.Zero(t, st.Dropped)
}

func TestStormRatioTrips(t *testing.T) {
	for _, action := range []StormAction{StormRefuse, StormSignal} {
		t.Run(string(action), func(t *testing.T) {
			s := newStormDLQ(t, StormConfig{MaxRatio: 0.5, MinEvents: 100, Action: action})
			s.fail(t, 99, "parse_error")
			s.settle(t)
			assert.False(t, s.Storm(), "99 events are fewer than min_events, whatever their ratio")
			s.ok(99)
			s.settle(t)
			assert.False(t, s.Storm(), "a ratio of exactly max_ratio does not pass it")
			s.noEvent(t, "not tripped")

			s.fail(t, 1, "parse_error")
			ev := s.event(t, "trip")
			assert.True(t, ev.Tripped)
			assert.Equal(t, uint64(100), ev.DeadLetters)
			assert.Equal(t, uint64(99), ev.Ok)
			assert.InDelta(t, 100.0/199, ev.Ratio, 1e-9)
			assert.Equal(t, s.clock.Now(), ev.At)
			assert.True(t, s.Storm())

			err := s.Send(Entry{Reason: "parse_error", Payload: []byte("after the trip")})
			flushOK(t, s.Orchestrator)
			st := s.Stats()
			assert.True(t, st.StormTripped)
			assert.Equal(t, uint64(1), st.StormTrips)
			written := byPayload(readDir(t, s.dir+"/svc"))
			switch action {
			case StormRefuse:
				require.ErrorIs(t, err, ErrStorm)
				assert.Equal(t, uint64(100), st.Accepted, "refused, not accepted")
				assert.Equal(t, map[string]uint64{ReasonStorm: 1}, st.DroppedBy)
				assert.Equal(t, uint64(1), st.Dropped)
				assert.NotContains(t, written, "after the trip")
				err = s.SendContext(context.Background(), Entry{Reason: "parse_error"})
				require.ErrorIs(t, err, ErrStorm, "SendContext refuses too, without waiting")
				assert.Equal(t, uint64(2), s.Stats().DroppedBy[ReasonStorm])
			case StormSignal:
				require.NoError(t, err, "signal accepts")
				assert.Equal(t, uint64(101), st.Accepted)
				assert.Empty(t, st.DroppedBy)
				assert.Contains(t, written, "after the trip")
			}
			assert.Equal(t, st.Accepted, st.Written)
			s.noEvent(t, "one trip, one event")
		})
	}
}

func TestStormConsecutive(t *testing.T) {
	t.Run("scattered runs never trip", func(t *testing.T) {
		s := newStormDLQ(t, StormConfig{MaxConsecutive: 5})
		for range 50 {
			s.fail(t, 4, "timeout")
			s.Ok()
		}
		s.settle(t)
		assert.False(t, s.Storm())
		s.noEvent(t, "no run of 5")
	})
	t.Run("a run of N trips, even with an Ok right after", func(t *testing.T) {
		s := newStormDLQ(t, StormConfig{MaxConsecutive: 5})
		s.fail(t, 3, "timeout")
		s.Ok()
		s.fail(t, 4, "timeout")
		assert.False(t, s.Storm(), "4 in a row")
		s.fail(t, 1, "timeout")
		assert.True(t, s.Storm(), "the 5th in a row trips it at once")
		s.ok(10) // within the same look of the brake
		ev := s.event(t, "trip")
		assert.True(t, ev.Tripped)
		assert.Equal(t, uint64(5), ev.Consecutive, "the run that tripped it")
		assert.Equal(t, uint64(8), ev.DeadLetters)
		assert.True(t, s.Storm(), "an Ok does not clear it")
		require.ErrorIs(t, s.Send(Entry{Reason: "timeout"}), ErrStorm)
	})
	t.Run("after a clear the next dead letter trips again", func(t *testing.T) {
		s := newStormDLQ(t, StormConfig{MaxConsecutive: 3, CoolDownMS: 1000})
		s.fail(t, 3, "timeout")
		assert.True(t, s.event(t, "next").Tripped)
		s.clock.Add(time.Second)
		assert.False(t, s.event(t, "next").Tripped)
		assert.False(t, s.Storm())
		s.fail(t, 1, "timeout")
		assert.True(t, s.Storm(), "the run went on")
		assert.True(t, s.event(t, "next").Tripped)
	})
}

func TestStormCoolDown(t *testing.T) {
	s := newStormDLQ(t, StormConfig{MaxRatio: 0.5, MinEvents: 10, CoolDownMS: 1000})
	s.fail(t, 10, "parse_error")
	trip := s.event(t, "trip")
	require.True(t, trip.Tripped)
	for range 20 {
		require.ErrorIs(t, s.Send(Entry{Reason: "refused"}), ErrStorm)
	}
	flushOK(t, s.Orchestrator) // the drain has taken every dead letter: the clear's tops are whole

	s.clock.Add(999 * time.Millisecond)
	s.settle(t)
	assert.True(t, s.Storm(), "before the cool-down ends")
	s.clock.Add(time.Millisecond)
	clear := s.event(t, "clear")
	assert.False(t, clear.Tripped)
	assert.Equal(t, trip.At.Add(time.Second), clear.At)
	assert.Equal(t, uint64(10), clear.DeadLetters, "the window is time: a clear does not empty it")
	assert.Equal(t, []StormCount{{Key: "parse_error", Count: 10}}, clear.TopReasons, "refused entries are no dead letters")
	assert.False(t, s.Storm())

	t.Run("no further failures: it stays clear", func(t *testing.T) {
		s.ok(3) // the window's ratio is still 10/13, but no dead letter came
		s.settle(t)
		assert.False(t, s.Storm())
		s.noEvent(t, "no dead letter since the clear")
	})
	t.Run("failures go on: it trips again at once", func(t *testing.T) {
		require.NoError(t, s.Send(Entry{Reason: "parse_error"}), "let through after the cool-down")
		again := s.event(t, "trip again")
		assert.True(t, again.Tripped)
		assert.Equal(t, uint64(11), again.DeadLetters)
		assert.Equal(t, uint64(3), again.Ok)
		assert.True(t, s.Storm())
		assert.Equal(t, uint64(2), s.Stats().StormTrips)
	})
	t.Run("the window forgets what is older than it", func(t *testing.T) {
		s.clock.Add(time.Second)
		require.False(t, s.event(t, "next").Tripped)
		s.clock.Add(time.Minute) // the default window
		s.fail(t, 1, "parse_error")
		s.settle(t)
		assert.False(t, s.Storm(), "one dead letter in the window now, fewer than min_events")
		s.noEvent(t, "the old failures left the window")
	})
}

func TestStormEventCarriesTheTops(t *testing.T) {
	// The failures are written before the window holds min_events, so the
	// drain has taken them all when the brake trips.
	s := newStormDLQ(t, StormConfig{MaxRatio: 0.5, MinEvents: 300, Action: StormSignal})
	for i := range 200 {
		var e Entry
		switch {
		case i%10 < 6:
			e = Entry{Reason: "parse_error", Error: fmt.Sprintf("unexpected token at offset %d", 1000+i)}
		case i%10 < 9:
			e = Entry{Reason: "timeout", Error: fmt.Sprintf("call to 10.0.0.%d:8080 timed out after 3s", i%250)}
		default:
			e = Entry{Reason: "schema", Error: fmt.Sprintf("order %08x-1b2d-4c5e-8f9a-0b1c2d3e4f5a not found", i)}
		}
		require.NoError(t, s.Send(e))
	}
	flushOK(t, s.Orchestrator)
	s.ok(100)
	ev := s.event(t, "trip")
	assert.True(t, ev.Tripped)
	assert.Equal(t, uint64(200), ev.DeadLetters)
	assert.Equal(t, uint64(100), ev.Ok)
	assert.InDelta(t, 2.0/3, ev.Ratio, 1e-9)
	assert.Zero(t, ev.Consecutive, "max_consecutive is off")
	assert.Equal(t, []StormCount{{"parse_error", 120}, {"timeout", 60}, {"schema", 20}}, ev.TopReasons)
	assert.Equal(t, []StormCount{
		{"unexpected token at offset <n>", 120},
		{"call to <ip> timed out after <dur>", 60},
		{"order <uuid> not found", 20},
	}, ev.TopFingerprints)
}

// TestStormEventCountsWhatAFlushTook: entries that wait in the queue while
// the drain retries a full disk are taken off it by Flush, not by the
// drain's loop; they are among the event's recent dead letters all the
// same, though the disk never takes them.
func TestStormEventCountsWhatAFlushTook(t *testing.T) {
	disk := testenv.MountTmpfs(t, 64<<10)
	disk.Fill()
	events := make(chan StormEvent, 10)
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 8, QueueCapacity: 64,
		Retry:   RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20},
		Logger:  discardLogger(),
		Storm:   StormConfig{MaxRatio: 0.5, MinEvents: 100, Action: StormSignal},
		OnStorm: func(ev StormEvent) { events <- ev }})
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = o.Close(ctx) // the disk stays full: what is pending is lost
	}()
	flush := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, o.Flush(ctx), ErrNotWritten, "the disk is full")
		require.Zero(t, o.Stats().QueueDepth, "Flush took everything queued")
	}
	for range 5 {
		require.NoError(t, o.Send(Entry{Reason: "first", Error: "disk full"}))
	}
	flush()
	for range 50 {
		require.NoError(t, o.Send(Entry{Reason: "queued", Error: "disk full"}))
	}
	require.Equal(t, 50, o.Stats().QueueDepth, "the drain takes nothing new while it retries")
	flush()
	for range 45 {
		o.Ok()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case ev := <-events:
		assert.True(t, ev.Tripped)
		assert.Equal(t, []StormCount{{"queued", 50}, {"first", 5}}, ev.TopReasons)
		assert.Equal(t, []StormCount{{"disk full", 55}}, ev.TopFingerprints)
	case <-ctx.Done():
		t.Fatalf("no trip: %+v", o.Stats())
	}
}

func TestStormTopsKeepTheMostFrequent(t *testing.T) {
	var letters []recentLetter
	for i, word := range []string{"zero", "one", "two", "three", "four", "five", "six", "seven"} {
		for range i + 1 {
			letters = append(letters, recentLetter{reason: fmt.Sprintf("r%d", i), err: word + " failed"})
		}
	}
	letters = append(letters, recentLetter{}, recentLetter{})
	reasons, prints := stormTops(letters)
	assert.Equal(t, []StormCount{{"r7", 8}, {"r6", 7}, {"r5", 6}, {"r4", 5}, {"r3", 4}}, reasons)
	assert.Len(t, prints, stormTop)
	assert.Equal(t, StormCount{"seven failed", 8}, prints[0])
	reasons, prints = stormTops(nil)
	assert.Empty(t, reasons)
	assert.Empty(t, prints)
}

func TestStormRecentLettersAreTheLast(t *testing.T) {
	var r recentLetters
	for i := range recentLetterCount + 10 {
		r.put([]recentLetter{{reason: fmt.Sprint(i)}})
	}
	got := r.copyTo(nil)
	require.Len(t, got, recentLetterCount)
	seen := map[string]bool{}
	for _, l := range got {
		seen[l.reason] = true
	}
	assert.False(t, seen["9"], "the oldest fell out")
	assert.True(t, seen["10"])
	assert.True(t, seen[fmt.Sprint(recentLetterCount+9)])
}

func TestStormWindowMovesWithTheClock(t *testing.T) {
	w := newStormWindow(time.Second) // 10 buckets of 100 ms
	start := time.Unix(1000, 0)
	w.add(start, 5, 5)
	w.add(start.Add(500*time.Millisecond), 10, 5)
	assert.Equal(t, uint64(10), w.sumDead)
	w.add(start.Add(time.Second), 10, 8) // the first bucket fell out
	assert.Equal(t, uint64(5), w.sumDead)
	assert.Equal(t, uint64(3), w.sumOk)
	w.add(start.Add(500*time.Millisecond), 11, 8) // the clock stepped back
	assert.Equal(t, uint64(6), w.sumDead)
	w.add(start.Add(time.Hour), 11, 8)
	assert.Zero(t, w.sumDead+w.sumOk)
	assert.Zero(t, w.ratio())
	w.add(time.Unix(-1000, 0), 12, 9) // before 1970: no slot out of the ring
	assert.Equal(t, 0.5, w.ratio())
}

func TestStormAfterClose(t *testing.T) {
	s := newStormDLQ(t, StormConfig{MaxConsecutive: 2})
	s.fail(t, 2, "timeout")
	require.True(t, s.Storm())
	closeOK(t, s.Orchestrator)
	select {
	case <-s.brake.done:
	default:
		t.Fatal("Close returned with the brake goroutine running")
	}
	assert.True(t, s.Storm(), "Close leaves the state as it was")
	s.Ok()
	require.ErrorIs(t, s.Send(Entry{Reason: "timeout"}), ErrClosed, "closed, not refused by the brake")
	st := s.Stats()
	assert.Equal(t, map[string]uint64{ReasonClosed: 1}, st.DroppedBy)
	assert.True(t, st.StormTripped)
}

func TestStormConfig(t *testing.T) {
	t.Run("a storm block", func(t *testing.T) {
		cfg, err := parseConfig([]byte("service: svc\nstorm:\n  max_ratio: 0.5\n  max_consecutive: 50\n  action: signal\n"), noEnv)
		require.NoError(t, err)
		assert.Equal(t, StormConfig{MaxRatio: 0.5, MaxConsecutive: 50, Action: StormSignal}, cfg.Storm)
		cfg.File.Dir = t.TempDir()
		o, err := New(cfg)
		require.NoError(t, err)
		defer closeOK(t, o)
		require.NotNil(t, o.brake)
		assert.Equal(t, StormConfig{MaxRatio: 0.5, MinEvents: 100, WindowMS: 60000, MaxConsecutive: 50,
			Action: StormSignal, CoolDownMS: 30000}, o.brake.cfg)
		assert.False(t, o.brake.refuse)
	})
	t.Run("DefaultConfig shows the defaults, brake off", func(t *testing.T) {
		s := DefaultConfig("svc").Storm
		assert.Equal(t, StormConfig{MinEvents: 100, WindowMS: 60000, Action: StormRefuse, CoolDownMS: 30000}, s)
		assert.False(t, s.on())
	})
	for _, test := range []struct {
		doc, field, want string
	}{
		{"max_ratio: 1.5", "storm.max_ratio", "must be from 0 (off) to 1, got 1.5"},
		{"max_ratio: -0.1", "storm.max_ratio", "must be from 0 (off) to 1, got -0.1"},
		{"max_ratio: .nan", "storm.max_ratio", "must be from 0 (off) to 1, got NaN"},
		{"max_ratio: half", "storm.max_ratio", `want a number, got "half"`},
		{"min_events: -1", "storm.min_events", "must not be negative, got -1"},
		{"window_ms: 99", "storm.window_ms", "must be at least 100, got 99"},
		{"window_ms: 86400001", "storm.window_ms", "must be at most 86400000"},
		{"max_consecutive: -3", "storm.max_consecutive", "must not be negative, got -3"},
		{"action: pause", "storm.action", `"pause" is not one of refuse, signal`},
		{"cool_down_ms: -5", "storm.cool_down_ms", "must not be negative, got -5"},
		{"cool_down_ms: 86400001", "storm.cool_down_ms", "must be at most 86400000"},
		{"max_ratoi: 0.5", "storm.max_ratoi", `unknown key (did you mean "max_ratio"?)`},
	} {
		t.Run(test.doc, func(t *testing.T) {
			_, err := parseConfig([]byte("service: svc\nstorm:\n  "+test.doc+"\n"), noEnv)
			ce := requireConfigError(t, err)
			require.Len(t, ce.Fields, 1, "%v", err)
			assert.Equal(t, test.field, ce.Fields[0].Field)
			assert.Equal(t, 3, ce.Fields[0].Line)
			assert.ErrorContains(t, err, test.want)
		})
	}
	t.Run("New names the field", func(t *testing.T) {
		_, err := New(Config{Service: "svc", Storm: StormConfig{MaxRatio: math.Inf(1), WindowMS: 10, Action: "Refuse"}})
		ce := requireConfigError(t, err)
		var fields []string
		for _, f := range ce.Fields {
			fields = append(fields, f.Field)
		}
		assert.Equal(t, []string{"storm.max_ratio", "storm.window_ms", "storm.action"}, fields)
	})
}

// TestStormAllocatesNothing: Ok and Send with the brake on, tripped or not,
// allocate nothing (Send beyond what it allocates without a brake: nothing).
func TestStormAllocatesNothing(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, test := range []struct {
		name    string
		storm   StormConfig
		tripped bool
	}{
		{"ratio", StormConfig{MaxRatio: 0.5}, false},
		{"consecutive", StormConfig{MaxConsecutive: 1 << 40}, false},
		{"refusing", StormConfig{MaxRatio: 0.5}, true},
		{"signalling", StormConfig{MaxRatio: 0.5, Action: StormSignal}, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			o, stop := stormSendHarness(t, test.storm)
			defer stop()
			o.brake.tripped.Store(test.tripped)
			e := benchEntry
			assert.Zero(t, testing.AllocsPerRun(10000, o.Ok), "Ok")
			assert.Zero(t, testing.AllocsPerRun(10000, func() {
				if err := o.Send(e); err != nil && !errors.Is(err, ErrQueueFull) && !errors.Is(err, ErrStorm) {
					t.Fatal(err)
				}
			}), "Send")
		})
	}
}

// stormSendHarness is sendHarness with a storm brake.
func stormSendHarness(tb testing.TB, storm StormConfig) (*Orchestrator, func()) {
	o := newOrchestrator(Config{Service: "svc", QueueCapacity: 10000, Storm: storm}, nil)
	stop := make(chan struct{})
	done := consume(o.queue, func() { o.giveRoom(1) }, stop)
	return o, func() { close(stop); <-done }
}

// TestStormClockStepsBack: the system clock (or Config.Clock) stepping back
// an hour neither freezes the window for that hour nor holds a trip past
// its cool-down by that hour. The brake measures time from its looks,
// never backwards: a step back is no time.
func TestStormClockStepsBack(t *testing.T) {
	t.Run("the window still forgets", func(t *testing.T) {
		s := newStormDLQ(t, StormConfig{MaxRatio: 0.5, MinEvents: 10, WindowMS: 1000, CoolDownMS: 1000})
		s.settle(t)
		s.clock.Add(-time.Hour)
		s.fail(t, 100, "parse_error")
		require.True(t, s.event(t, "trip").Tripped)
		s.clock.Add(time.Second)
		require.False(t, s.event(t, "clear").Tripped)
		s.clock.Add(5 * time.Second) // five windows: the storm's 100 left the window
		s.ok(50)
		s.settle(t)
		s.fail(t, 1, "parse_error") // 1 of 51 in the window
		s.settle(t)
		assert.False(t, s.Storm(), "a dead letter among 50 Ok, five windows after the storm, tripped the brake: the window still held the storm's")
		s.noEvent(t, "one dead letter in 51")
	})
	t.Run("the cool-down still ends", func(t *testing.T) {
		s := newStormDLQ(t, StormConfig{MaxConsecutive: 3, CoolDownMS: 1000})
		s.fail(t, 3, "timeout")
		require.True(t, s.event(t, "trip").Tripped)
		s.clock.Add(-time.Hour)
		s.settle(t)
		s.clock.Add(time.Second)
		ev := s.event(t, "the clear, a second after the trip")
		assert.False(t, ev.Tripped)
		assert.False(t, s.Storm())
	})
}
