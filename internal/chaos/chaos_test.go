//go:build dlq_all

package chaos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

var (
	faultDuration = flag.Duration("chaos.duration", 0, "how long each mode runs under faults; 0: 3s, or 10s with -chaos.long or CI=true")
	longSchedule  = flag.Bool("chaos.long", false, "run each mode under faults for 10s, as under CI=true")
	senderRate    = flag.Int("chaos.rate", -1, "entries per second per sender (8 senders); 0 sends as fast as the queue takes them; -1: 1000 on the short schedule, 0 on the long one")
	faultSeed     = flag.Uint64("chaos.seed", 0, "seed of the fault schedule; 0 takes one from the clock")
)

// quietRedis drops go-redis's own log lines: the suite kills Redis on
// purpose, and go-redis logs every failed dial through its package logger,
// burying a failing run's output. The backend reports the same failures as
// errors, which the suite counts.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	goleak.VerifyTestMain(m,
		// go-redis redials a pool whose dials failed once a second, in a
		// goroutine that notices Close at its next wake-up.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
	)
}

// Fault schedules. The short one keeps the README's test command within 3
// minutes on 2 cores under -race: a run's cost grows with the entries sent,
// each written to and read back from four backends, and fan-out's large
// queue takes 50k entries in 3 s from unthrottled senders, which then cost
// over a minute. CI runs the long one.
const (
	shortScheduleTime = 3 * time.Second
	shortScheduleRate = 1000 // entries per second per sender
	longScheduleTime  = 10 * time.Second
)

func long() bool { return *longSchedule || os.Getenv("CI") == "true" }

// faultTime is how long each mode runs under faults.
func faultTime() time.Duration {
	switch {
	case *faultDuration > 0:
		return *faultDuration
	case long():
		return longScheduleTime
	default:
		return shortScheduleTime
	}
}

// rate is how many entries per second each sender sends; 0 is unthrottled.
func rate() int {
	switch {
	case *senderRate >= 0:
		return *senderRate
	case long():
		return 0
	default:
		return shortScheduleRate
	}
}

func TestChaosCascade(t *testing.T) { runChaos(t, dlq.ModeCascade, 64<<20) }

func TestChaosFanOut(t *testing.T) { runChaos(t, dlq.ModeFanOut, 256<<20) }

// faultLoop injects one kind of fault on a random schedule until stop
// closes, healing each before the next, and heals on the way out.
func faultLoop(rng *rand.Rand, stop <-chan struct{}, count func(string), inject func() (name string, heal func())) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(100+rng.IntN(500)) * time.Millisecond):
		}
		name, heal := inject()
		count(name)
		select {
		case <-stop:
		case <-time.After(time.Duration(200+rng.IntN(1300)) * time.Millisecond):
		}
		heal()
	}
}

func runChaos(t *testing.T, mode dlq.Mode, diskBytes int) {
	seed := *faultSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -chaos.seed %d)", seed, seed)
	b := startBackends(t, diskBytes)
	cfg := b.config(mode)
	if mode == dlq.ModeFanOut {
		cfg.QueueCapacity = 200000 // room for catch-up lists through long faults
	}
	var (
		lostMu sync.Mutex
		lost   = map[string]string{}
	)
	cfg.OnLoss = func(e dlq.Entry, _ dlq.LossReason, err error) {
		lostMu.Lock()
		defer lostMu.Unlock()
		lost[e.ID] = err.Error()
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	o, err := dlq.New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	var (
		faultsMu sync.Mutex
		faults   = map[string]int{}
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	count := func(name string) {
		faultsMu.Lock()
		faults[name]++
		faultsMu.Unlock()
	}
	rngFor := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

	// Faults, one loop per backend so that they overlap, and Flushes.
	wg.Go(func() {
		faultLoop(rngFor(1), stop, count, func() (string, func()) {
			b.kafka.Stop()
			return "kafka_stopped", b.kafka.Restart
		})
	})
	wg.Go(func() {
		faultLoop(rngFor(2), stop, count, func() (string, func()) {
			b.redis.Kill()
			return "redis_sigkill", b.redis.Restart
		})
	})
	wg.Go(func() {
		rng := rngFor(3)
		faultLoop(rng, stop, count, func() (string, func()) {
			f := httpFault(1 + rng.IntN(4))
			b.http.fault.Store(int32(f))
			return httpFaultNames[f], func() { b.http.fault.Store(int32(httpOK)) }
		})
	})
	diskSize := diskBytes
	wg.Go(func() {
		rng := rngFor(4)
		faultLoop(rng, stop, count, func() (string, func()) {
			free := b.disk.Fill()
			if rng.IntN(2) == 0 {
				return "disk_full", free
			}
			return "disk_full", func() { // room again by enlarging, ballast kept
				diskSize += 8 << 20
				b.disk.Resize(diskSize)
				count("disk_enlarged")
			}
		})
	})
	var flushErrors atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := o.Flush(ctx); err != nil {
				flushErrors.Add(1)
			}
			cancel()
			count("flush_call")
		}
	})

	// Senders.
	const senders = 8
	var (
		acceptedMu sync.Mutex
		accepted   = map[string]bool{}
		refusedMu  sync.Mutex
		refused    = map[string]int{}
		sent       atomic.Int64
		senderWG   sync.WaitGroup
	)
	deadline := time.Now().Add(faultTime())
	for g := range senders {
		senderWG.Go(func() {
			rng := rngFor(100 + uint64(g))
			for i := 0; time.Now().Before(deadline); i++ {
				e := dlq.Entry{ID: fmt.Sprintf("g%d-%07d", g, i), Reason: "chaos", Payload: make([]byte, 32),
					Destination: "acme.auth", Source: dlq.KafkaSource("events", int32(g), int64(i))}
				sent.Add(1)
				var err error
				if i%4 == 0 {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
					err = o.SendContext(ctx, e)
					cancel()
				} else {
					err = o.Send(e)
				}
				switch {
				case err == nil:
					acceptedMu.Lock()
					accepted[e.ID] = true
					acceptedMu.Unlock()
				case errors.Is(err, dlq.ErrQueueFull):
					refusedMu.Lock()
					refused["queue_full"]++
					refusedMu.Unlock()
				case errors.Is(err, context.DeadlineExceeded):
					refusedMu.Lock()
					refused["canceled"]++
					refusedMu.Unlock()
				default:
					t.Errorf("Send: %v", err)
					return
				}
				switch {
				case rate() > 0:
					time.Sleep(time.Second / time.Duration(rate()))
				case rng.IntN(8) == 0:
					time.Sleep(time.Millisecond) // about 8k entries/s per sender at most
				}
			}
		})
	}
	senderWG.Wait()
	close(stop)
	wg.Wait()

	// Faults are over and healed: let everything catch up, then close.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := o.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	b.http.srv.Close()

	h := b.readAll(t)
	s := o.Stats()
	sum := &summary{mode: mode, seed: int64(seed), duration: faultTime(), sent: int(sent.Load()),
		accepted: len(accepted), refused: refused, stats: s, held: map[string]int{}, lostBy: s.LostBy, faults: faults}
	found := map[string]bool{}
	for name, ids := range h {
		sum.held[name] = len(ids)
		for id, copies := range ids {
			found[id] = true
			sum.duplicates += copies - 1
		}
	}
	for id := range found {
		n := 0
		for _, ids := range h {
			if ids[id] > 0 {
				n++
			}
		}
		if mode == dlq.ModeCascade {
			sum.duplicates += n - 1
		}
	}

	// Every accepted entry is held by some backend or was counted lost.
	var missing []string
	for id := range accepted {
		if !found[id] {
			if _, ok := lost[id]; !ok {
				missing = append(missing, id)
			}
		}
	}
	sum.unaccounted = len(missing)
	if len(missing) > 0 {
		t.Errorf("%d accepted entries are in no backend and not counted lost, e.g. %v", len(missing), missing[:min(10, len(missing))])
	}
	for id := range found {
		if !accepted[id] {
			t.Errorf("backend holds entry %s that was never accepted", id)
		}
	}
	if s.Accepted != uint64(len(accepted)) {
		t.Errorf("Stats.Accepted %d, but %d Sends returned nil", s.Accepted, len(accepted))
	}
	if s.Written+s.Lost != s.Accepted || s.Pending != 0 {
		t.Errorf("after Close, Accepted %d != Written %d + Lost %d (Pending %d)", s.Accepted, s.Written, s.Lost, s.Pending)
	}
	if int(s.Lost) != len(lost) {
		t.Errorf("Stats.Lost %d, OnLoss saw %d", s.Lost, len(lost))
	}
	if mode == dlq.ModeCascade {
		// The stats count each written entry once, in the backend that
		// took it; extra copies are writes reported failed that had in fact
		// landed (a broker or server that died before answering).
		var statsHeld uint64
		for _, bs := range s.Backends {
			statsHeld += bs.Entries
		}
		if statsHeld != s.Written {
			t.Errorf("cascade: backends' entries add up to %d, Written is %d", statsHeld, s.Written)
		}
	}
	if mode == dlq.ModeFanOut {
		// After the faults stop and the backends catch up, every backend
		// holds every written entry, less what it counted as missed.
		for _, bs := range s.Backends {
			ids := h[bs.Kind.String()]
			absent := 0
			for id := range accepted {
				if _, isLost := lost[id]; !isLost && ids[id] == 0 {
					absent++
				}
			}
			if uint64(absent) > bs.Missed {
				sum.notInEvery += absent - int(bs.Missed)
				t.Errorf("fan_out: %s lacks %d written entries but counted %d missed", bs.Kind, absent, bs.Missed)
			}
		}
	}
	t.Log(sum)
	t.Logf("Flush calls that returned an error under faults: %d", flushErrors.Load())

	// The run proves something only if the faults happened and hit.
	for _, name := range []string{"kafka_stopped", "redis_sigkill", "disk_full", "flush_call"} {
		if faults[name] == 0 {
			t.Errorf("no %s during the run: lengthen -chaos.duration", name)
		}
	}
	httpFaults := 0
	for _, name := range httpFaultNames[1:] {
		httpFaults += faults[name]
	}
	if httpFaults == 0 {
		t.Errorf("no HTTP fault during the run: lengthen -chaos.duration")
	}
	if s.Backends[0].Errors == 0 {
		t.Errorf("%s was stopped %d times but failed no entry", s.Backends[0].Kind, faults["kafka_stopped"])
	}
	if mode == dlq.ModeCascade && s.Backends[0].Entries == s.Written {
		t.Errorf("cascade: %s took every entry through its outages: nothing fell through", s.Backends[0].Kind)
	}
	// A copy beyond the first is a write reported failed that had landed:
	// there are no more of them than failures.
	var failures uint64
	for _, bs := range s.Backends {
		failures += bs.Errors
	}
	if uint64(sum.duplicates) > failures {
		t.Errorf("%d duplicate copies, but the backends failed only %d entries", sum.duplicates, failures)
	}
}
