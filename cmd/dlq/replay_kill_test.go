package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var replaySeed = flag.Uint64("replay.seed", 19, "seed of the moments at which the replay tests interrupt a replay")

// writeNumbered writes n entries through the library's file backend into
// dir/svc; entry i has the id and payload "%05d" of i, so that the target
// can tell which it got and in which order.
func writeNumbered(t *testing.T, dir string, n int) {
	t.Helper()
	o, err := dlq.New(dlq.Config{Service: "svc", File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i := range n {
		id := fmt.Sprintf("%05d", i)
		require.NoError(t, o.Send(dlq.Entry{Reason: "r", Payload: []byte(id), ID: id}))
	}
	require.NoError(t, o.Close(t.Context()))
}

// checkpoint is what a test reads of a replay's checkpoint file.
type checkpoint struct {
	Position string `json:"position"`
	Replayed uint64 `json:"replayed"`
}

// How much a replay killed with SIGKILL may send again, as
// dlq.ReplayOptions.Checkpoint promises: the entries confirmed since the
// last write of the checkpoint, at most Rate/4 of them, and the batch in
// flight.
const replayBatch = 100

func checkpointEvery(rate float64) uint64 { return uint64(math.Ceil(rate / 4)) }

// readCheckpoint returns what the checkpoint at path holds (zero when there
// is none yet).
func readCheckpoint(t *testing.T, path string) checkpoint {
	t.Helper()
	var cp checkpoint
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return cp
	}
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &cp), "%s", data)
	return cp
}

// numberedTarget is a real HTTP server that records the entries (by number)
// each replay run posts, in order. Armed with a request count, it tells the
// test when that request arrives and then answers it, holds it unanswered
// until the client goes away, or stores it only once the client went away
// (a target that kept an entry its sender never saw confirmed).
type numberedTarget struct {
	addr    string
	mu      sync.Mutex
	got     []int // this run's entries, in arrival order
	calls   int
	at      int // 0: not armed
	mode    atMode
	reached chan struct{}
	open    map[string]int // connections accepted and not yet closed, by client address
	changed chan struct{}  // closed and replaced when open changes
}

// atMode is what the target does with the request it was armed for.
type atMode int

const (
	answer     atMode = iota // store and answer it
	hold                     // store it, answer it never
	storeLater               // store it when the client has gone, answer it never
)

func (m atMode) String() string { return [...]string{"answered", "held", "stored after the kill"}[m] }

func newNumberedTarget(t *testing.T) (*numberedTarget, string) {
	nt := &numberedTarget{open: map[string]int{}, changed: make(chan struct{})}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n, err := strconv.Atoi(string(body))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		nt.mu.Lock()
		nt.calls++
		hit, mode := nt.at != 0 && nt.calls == nt.at, nt.mode
		if !hit || mode != storeLater {
			nt.got = append(nt.got, n)
		}
		nt.mu.Unlock()
		if !hit {
			return
		}
		close(nt.reached)
		if mode == answer {
			return
		}
		<-r.Context().Done() // the replay was interrupted with this request in flight
		if mode == storeLater {
			nt.mu.Lock()
			nt.got = append(nt.got, n)
			nt.mu.Unlock()
		}
	}))
	srv.Config.ConnState = func(c net.Conn, state http.ConnState) {
		nt.mu.Lock()
		defer nt.mu.Unlock()
		switch client := c.RemoteAddr().String(); state {
		case http.StateNew:
			nt.open[client]++
		case http.StateClosed, http.StateHijacked:
			if nt.open[client]--; nt.open[client] <= 0 {
				delete(nt.open, client)
			}
		default:
			return
		}
		close(nt.changed)
		nt.changed = make(chan struct{})
	}
	srv.Start()
	t.Cleanup(srv.Close)
	nt.addr = srv.Listener.Addr().String()
	return nt, srv.URL + "/ingest"
}

// arm starts a run: the target forgets the last run's entries and reports
// its at-th request (at 0: none), doing with it what mode says.
func (nt *numberedTarget) arm(at int, mode atMode) <-chan struct{} {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	nt.got, nt.calls, nt.at, nt.mode, nt.reached = nil, 0, at, mode, make(chan struct{})
	return nt.reached
}

// settle waits until the target is done with every connection a replay
// that has exited opened. A replay killed just after writing a request
// leaves it in the target's socket, to be read and stored after the
// replay is gone: counted before that, the run misses it, and the next
// run, armed meanwhile, gets it first and seems to skip entries.
func (nt *numberedTarget) settle(ctx context.Context, t *testing.T) {
	t.Helper()
	probe, err := (&net.Dialer{}).DialContext(ctx, "tcp", nt.addr)
	require.NoError(t, err)
	me := probe.LocalAddr().String()
	// The listener hands out connections in the order they came: past the
	// probe, the server holds every connection the replay opened.
	nt.waitFor(ctx, t, "the target to accept a probe", func() bool { return nt.open[me] > 0 })
	require.NoError(t, probe.Close())
	nt.waitFor(ctx, t, "the target to close every connection", func() bool { return len(nt.open) == 0 })
}

// waitFor waits until done, called under nt.mu, holds.
func (nt *numberedTarget) waitFor(ctx context.Context, t *testing.T, what string, done func() bool) {
	t.Helper()
	for {
		nt.mu.Lock()
		ok, changed := done(), nt.changed
		nt.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			nt.mu.Lock()
			open := len(nt.open)
			nt.mu.Unlock()
			t.Fatalf("waiting for %s (%d connections open): %v", what, open, ctx.Err())
		}
	}
}

// run returns the entries of the run armed last: call it once the target
// settled.
func (nt *numberedTarget) run() []int {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return append([]int(nil), nt.got...)
}

// child is the dlq command run as a process of its own: the test binary
// running main (see TestMain), so that it can be interrupted or killed.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	exited         chan struct{}
	err            error
}

func startChild(ctx context.Context, t *testing.T, env []string, args ...string) *child {
	t.Helper()
	c := &child{exited: make(chan struct{})}
	c.cmd = exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	c.cmd.Env = append(append(os.Environ(), env...), "DLQ_TEST_RUN_MAIN="+strings.Join(args, "\x1f"))
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	require.NoError(t, c.cmd.Start())
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	return c
}

// wait waits for the child to exit, failing the test when ctx ends first.
func (c *child) wait(ctx context.Context, t *testing.T) error {
	t.Helper()
	select {
	case <-c.exited:
		return c.err
	case <-ctx.Done():
		t.Fatalf("the replay did not exit: %v\nstdout: %s\nstderr: %s", ctx.Err(), &c.stdout, &c.stderr)
		return nil
	}
}

// TestReplayInterruptedWithRateResumes interrupts a rate-capped replay with
// a checkpoint at seeded random moments (its n-th request to the target,
// answered, still in flight, or stored by the target only once the replay
// is gone), once or twice in a row, then reruns it to completion, 20 times
// for each signal. Each run is counted once the target settled: whatever
// the killed replay wrote, the target read. Every run must start exactly after
// the entry the checkpoint names (nothing skipped), the checkpoint must
// never name an entry the target did not get, and what is sent twice must
// be only what the checkpoint had not yet recorded: the request in flight
// for SIGINT (which writes the checkpoint on its way out), at most
// checkpointEvery entries and one batch for SIGKILL.
func TestReplayInterruptedWithRateResumes(t *testing.T) {
	const (
		n      = 400
		rate   = 1000
		margin = 100 // entries left after the request that triggers the signal
	)
	src := t.TempDir()
	writeNumbered(t, src, n)
	for _, sig := range []os.Signal{os.Interrupt, os.Kill} {
		t.Run(sig.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(*replaySeed, uint64(len(sig.String()))))
			t.Logf("-replay.seed %d", *replaySeed)
			unconfirmedMax := 1 // the POST in flight
			if sig == os.Kill {
				unconfirmedMax = int(checkpointEvery(rate)) + replayBatch
			}
			target, url := newNumberedTarget(t)
			var stops, resent, worst int
			for round := range 20 {
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				cp := filepath.Join(t.TempDir(), "replay.cp")
				args := []string{"replay", src, "--to", url, "--rate", strconv.Itoa(rate), "--checkpoint", cp}
				for stop := range 1 + rng.IntN(2) {
					start := int(readCheckpoint(t, cp).Replayed)
					if n-start < 2*margin {
						break
					}
					at, mode := 1+rng.IntN(n-start-margin), atMode(rng.IntN(3))
					pause := time.Duration(rng.IntN(20)) * time.Millisecond
					reached := target.arm(at, mode)
					c := startChild(ctx, t, nil, args...)
					select {
					case <-reached:
					case <-c.exited:
						t.Fatalf("round %d: the replay ended before its request %d: %v\n%s%s", round, at, c.err, &c.stdout, &c.stderr)
					case <-ctx.Done():
						t.Fatalf("round %d: request %d never came", round, at)
					}
					if mode == answer {
						time.Sleep(pause) // somewhere after the answer: a rate wait, the next request, a checkpoint write
					}
					require.NoError(t, c.cmd.Process.Signal(sig))
					if err := c.wait(ctx, t); err == nil {
						// The pause outlasted the replay's margin: it finished first.
						require.Equal(t, n, int(readCheckpoint(t, cp).Replayed), "round %d stop %d", round, stop)
						t.Logf("round %d stop %d: the replay finished before the signal", round, stop)
					} else if sig == os.Interrupt {
						assert.Contains(t, c.stderr.String(), "context canceled", "round %d stop %d", round, stop)
					}
					target.settle(ctx, t)
					got := target.run()
					assertContiguous(t, got, start, fmt.Sprintf("round %d stop %d (request %d %s)", round, stop, at, mode))
					end := start + len(got)
					cpNow := int(readCheckpoint(t, cp).Replayed)
					require.LessOrEqual(t, cpNow, end, "round %d stop %d: the checkpoint names an entry the target never got", round, stop)
					require.GreaterOrEqual(t, cpNow, start, "round %d stop %d", round, stop)
					assert.LessOrEqual(t, end-cpNow, unconfirmedMax, "round %d stop %d: sent but not in the checkpoint", round, stop)
					stops++
					resent += end - cpNow
					worst = max(worst, end-cpNow)
				}
				start := int(readCheckpoint(t, cp).Replayed)
				target.arm(0, answer)
				c := startChild(ctx, t, nil, args...)
				require.NoError(t, c.wait(ctx, t), "round %d: the rerun\n%s%s", round, &c.stdout, &c.stderr)
				target.settle(ctx, t)
				cancel()
				got := target.run()
				assertContiguous(t, got, start, fmt.Sprintf("round %d: the rerun", round))
				require.Equal(t, n, start+len(got), "round %d: the rerun ends at the last entry", round)
				if start > 0 {
					assert.Contains(t, c.stdout.String(), fmt.Sprintf(", %d replayed before\n", start), "round %d", round)
				}
				assert.Contains(t, c.stdout.String(), fmt.Sprintf("replayed %d to", n-start), "round %d", round)
				assert.Equal(t, uint64(n), readCheckpoint(t, cp).Replayed, "round %d: the checkpoint's count", round)
			}
			t.Logf("%v: %d interruptions, none skipped; %d entries sent again (at most %d at once)", sig, stops, resent, worst)
		})
	}
}

// assertContiguous checks that one run sent the entries start, start+1, …
// in order, each once: a run that starts past start skipped entries.
func assertContiguous(t *testing.T, got []int, start int, what string) {
	t.Helper()
	for i, e := range got {
		if e != start+i {
			t.Fatalf("%s: request %d carried entry %d, want %d (skipped %d)", what, i+1, e, start+i, e-(start+i))
		}
	}
}

// TestReplayKilledHalfWayResumes: SIGKILL a replay without --rate while the
// target holds a request, run it again: nothing is skipped, and what is
// sent twice is what the checkpoint (rewritten by the clock) had not
// recorded.
func TestReplayKilledHalfWayResumes(t *testing.T) {
	dir := t.TempDir()
	const n = 250
	writeNumbered(t, dir, n)
	cp := filepath.Join(t.TempDir(), "replay.checkpoint")
	target, url := newNumberedTarget(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	args := []string{"replay", dir, "--to", url, "--checkpoint", cp}
	reached := target.arm(150, hold)
	c := startChild(ctx, t, nil, args...)
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatal("request 150 never came")
	}
	require.NoError(t, c.cmd.Process.Kill())
	_ = c.wait(ctx, t)
	target.settle(ctx, t)
	assertContiguous(t, target.run(), 0, "the killed run")
	kept := int(readCheckpoint(t, cp).Replayed)
	require.LessOrEqual(t, kept, 149, "the checkpoint names an entry the target never confirmed")

	target.arm(0, answer)
	out, err := run(t, args...)
	require.NoError(t, err)
	assertContiguous(t, target.run(), kept, "the rerun")
	assert.Contains(t, out, fmt.Sprintf("replayed %d to", n-kept))
	assert.Equal(t, uint64(n), readCheckpoint(t, cp).Replayed)
}
