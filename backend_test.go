package dlq

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The conformance suite: one set of promises, written down once, that every
// backend Kind built in keeps, the way watermill's pubsub/tests runs one
// suite against every Pub/Sub and slogtest one against every Handler. A
// Kind takes part through a backendRig: a real backend (a folder, a
// broker, a server), a way to read back what landed, and the faults the
// suite needs. What a Kind cannot do is a feature flag, with the reason.
//
// Each subtest asserts what a user checks, counting by entry id: what
// landed, how often, with which bytes, and what Stats and OnLoss say about
// the rest.

// backendRig builds one Kind's backend for the suite.
type backendRig struct {
	kind     Kind
	features rigFeatures
	// start prepares a fresh target for one subtest (its own folder,
	// broker, server or stream keys) and releases it when the subtest
	// ends. faults asks for a target that refuseSome and hang can break:
	// the file Kind then writes to a small tmpfs (root only).
	start func(t *testing.T, faults bool) rigTarget
}

// rigFeatures says what a Kind can do; each false or zero one has its
// reason at the rig.
type rigFeatures struct {
	// fallback: a file backend can follow the Kind in the cascade, and
	// takes what it fails.
	fallback bool
	// maxEntryBytes is the longest envelope line the backend takes: an
	// entry whose line is longer is refused as oversize. 0: no limit.
	maxEntryBytes int
	// hangs: hang holds a write in flight, unanswered, until release. A
	// rig without it refuses every write instead: the drain then retries
	// and no write is ever answered with success, which is what Flush and
	// Close see of a backend that is down.
	hangs bool
}

// rigTarget is one subtest's backend.
type rigTarget interface {
	// configure turns the Kind on in cfg as its only backend.
	configure(cfg *Config)
	// landed returns every copy of every entry the backend holds, by id.
	landed(t *testing.T) map[string][]Entry
	// refuseSome makes the backend refuse part of every batch from now on:
	// the entries whose Destination is refusedDest (shape sets it on some),
	// or (HTTP) the bodies that hold one, or (file) the lines past a full
	// disk. shape, when not nil, adjusts entry i of the batch before it is
	// sent. refused names the ids the backend refused of those sent, or is
	// nil when the Kind cannot tell in advance (the file: where the disk
	// fills).
	refuseSome(t *testing.T) (shape func(i int, e *Entry), refused func(sent []Entry) map[string]bool)
	// hang makes every write from now on hang (or be refused, without
	// features.hangs) until release. inFlight reports that a write has
	// reached the backend since: held by it, or refused.
	hang(t *testing.T) (inFlight func() bool, release func())
}

// refusedDest is the Destination of the entries refuseSome makes the
// backend refuse; keptDest that of the others.
const (
	refusedDest = "refuse"
	keptDest    = "keep"
)

// refuseEveryThird is refuseSome's shape for the Kinds that refuse by
// destination: entries 1, 4, 7, … go to refusedDest.
func refuseEveryThird(i int, e *Entry) {
	e.Destination = keptDest
	if i%3 == 1 {
		e.Destination = refusedDest
	}
}

// byDestination is refuseSome's refused for the Kinds that refuse by
// destination.
func byDestination(sent []Entry) map[string]bool {
	out := map[string]bool{}
	for _, e := range sent {
		if e.Destination == refusedDest {
			out[e.ID] = true
		}
	}
	return out
}

// hungPayload is the payload size of the entries sent to a backend that
// hangs: over a page, so that a full disk refuses even the first line,
// whatever room the live file's last page has left.
const hungPayload = 5000

// conformanceRigs is every Kind built in: the file always, the others
// added by the init of their tagged file (backend_kafka_test.go, …).
var conformanceRigs = []backendRig{fileRig()}

func TestBackendConformance(t *testing.T) {
	for _, rig := range conformanceRigs {
		t.Run(rig.kind.String(), func(t *testing.T) { runConformance(t, rig) })
	}
}

// Bounds of the suite. None is a timing assertion: confDeadline is the
// deadline handed to Flush and Close, and confLiveness, ten times as long,
// only turns a call that never returns into a failure with a message.
const (
	confDeadline = time.Second
	confLiveness = 10 * confDeadline
	// confWait bounds a wait for a state (a write in flight) or for a
	// Flush that must succeed.
	confWait = 30 * time.Second
	// confHourMS keeps a timer out of the way: no batch is written before
	// the Flush that the subtest makes.
	confHourMS = 3_600_000
)

// runConformance runs every subtest against rig.
func runConformance(t *testing.T, rig backendRig) {
	t.Run("write", func(t *testing.T) { confWrite(t, rig) })
	t.Run("partial failure", func(t *testing.T) { confPartial(t, rig) })
	if rig.features.maxEntryBytes > 0 {
		t.Run("oversize", func(t *testing.T) { confOversize(t, rig) })
	} else {
		t.Logf("oversize not run: the %s backend sets no size limit of its own", rig.kind)
	}
	t.Run("cancelled write", func(t *testing.T) { confCancelled(t, rig) })
	t.Run("Close deadline", func(t *testing.T) { confCloseDeadline(t, rig) })
	t.Run("no goroutine left", func(t *testing.T) { confNoGoroutineLeft(t, rig) })
}

// confWrite: N entries sent and flushed land exactly once each, their
// bytes intact, and Stats counts them written.
func confWrite(t *testing.T, rig backendRig) {
	const n = 50
	c := confOpen(t, rig, false, nil)
	sent := c.send(t, "write", n, 200, nil)
	c.flushOK(t)
	landed := c.target.landed(t)
	c.closeOK(t)

	requireLandedOnce(t, sent, landed)
	require.Len(t, landed, n, "nothing but what was sent")
	s := c.Stats()
	assert.Equal(t, uint64(n), s.Accepted)
	assert.Equal(t, uint64(n), s.Written)
	assert.Zero(t, s.Lost)
	assert.Equal(t, uint64(n), s.Backends[0].Entries)
	assert.Zero(t, s.Backends[0].Errors)
	requireAccounted(t, s)
}

// confPartial: a batch the backend takes only in part. The entries it
// failed, and only those, go on to the file behind it (or, for the file
// itself, which nothing follows, are lost with reason all_failed and
// handed to OnLoss); none is lost silently or written twice.
func confPartial(t *testing.T, rig backendRig) {
	const n = 30
	fallback := ""
	c := confOpen(t, rig, true, func(cfg *Config) {
		// One batch, written by the Flush: a batch where part fails.
		cfg.BatchSize, cfg.FlushIntervalMS = n, confHourMS
		cfg.Retry = RetryConfig{MaxAttempts: 1}
		if rig.features.fallback {
			fallback = t.TempDir()
			cfg.File = FileConfig{Dir: fallback}
			cfg.Order = []Kind{rig.kind, KindFile}
		}
	})
	shape, refused := c.target.refuseSome(t)
	sent := c.send(t, "partial", n, 400, shape)
	ctx, cancel := context.WithTimeout(t.Context(), confWait)
	defer cancel()
	flushErr := c.Flush(ctx)
	landed := c.target.landed(t)
	c.closeOK(t)

	failed := map[string]bool{}
	for _, e := range sent {
		if len(landed[e.ID]) == 0 {
			failed[e.ID] = true
		}
	}
	t.Logf("the %s backend took %d of %d entries", rig.kind, n-len(failed), n)
	require.NotEmpty(t, failed, "the %s backend refused part of the batch", rig.kind)
	require.Less(t, len(failed), n, "the %s backend took part of the batch", rig.kind)
	if refused != nil {
		require.Equal(t, refused(sent), failed, "the entries the backend refused failed, and only those")
	}
	requireLandedOnce(t, pick(sent, func(id string) bool { return !failed[id] }), landed)
	s := c.Stats()
	assert.Equal(t, uint64(n-len(failed)), s.Backends[0].Entries)
	assert.Equal(t, uint64(len(failed)), s.Backends[0].Errors)
	if rig.features.fallback {
		require.NoError(t, flushErr)
		inFile := confReadFile(t, filepath.Join(fallback, "svc"))
		require.Len(t, inFile, len(failed), "the file holds the entries the %s backend failed, and only those", rig.kind)
		requireLandedOnce(t, pick(sent, func(id string) bool { return failed[id] }), inFile)
		assert.Equal(t, uint64(len(failed)), s.Backends[1].Entries)
		assert.Equal(t, uint64(n), s.Written, "Written = in the backend + in the fallback")
		assert.Zero(t, s.Lost)
	} else {
		require.ErrorIs(t, flushErr, ErrLost)
		assert.Equal(t, uint64(n-len(failed)), s.Written)
		assert.Equal(t, map[LossReason]uint64{ReasonAllFailed: uint64(len(failed))}, s.LostBy)
		assert.Equal(t, failed, c.lostFor(ReasonAllFailed), "OnLoss was told of each lost entry")
	}
	requireAccounted(t, s)
}

// confOversize: an entry over the Kind's limit fails alone with
// ErrOversize: with no backend to take it, it is lost with reason oversize
// (at once, not retried) and Flush reports it, once; the entries around
// it land. With a file behind the Kind, the file takes it.
func confOversize(t *testing.T, rig backendRig) {
	limit := rig.features.maxEntryBytes
	const n, big = 6, 3
	mark := func(i int, e *Entry) {
		if i == big {
			e.Payload = confPayload(e.ID, limit) // base64 makes its line longer than limit
		}
	}
	others := func(id string) bool { return id != fmt.Sprintf("oversize-%03d", big) }
	t.Run("alone", func(t *testing.T) {
		c := confOpen(t, rig, false, func(cfg *Config) {
			// Attempts to spare: an oversize entry must not need them.
			cfg.Retry = RetryConfig{MaxAttempts: 3, InitialBackoffMS: 1, MaxBackoffMS: 5}
		})
		sent := c.send(t, "oversize", n, 100, mark)
		ctx, cancel := context.WithTimeout(t.Context(), confWait)
		defer cancel()
		flushErr := c.Flush(ctx)
		c.flushOK(t) // the loss is reported once
		landed := c.target.landed(t)
		c.closeOK(t)

		require.ErrorIs(t, flushErr, ErrLost, "Flush reports the oversize entry")
		require.NotErrorIs(t, flushErr, ErrNotWritten)
		assert.ErrorContains(t, flushErr, "1 entries lost")
		requireLandedOnce(t, pick(sent, others), landed)
		require.NotContains(t, landed, sent[big].ID)
		s := c.Stats()
		assert.Equal(t, map[LossReason]uint64{ReasonOversize: 1}, s.LostBy)
		assert.Equal(t, uint64(n-1), s.Written)
		assert.Equal(t, uint64(1), s.Backends[0].Errors, "refused once, never retried")
		assert.Zero(t, s.Retried)
		assert.Contains(t, s.Backends[0].LastError, ErrOversize.Error())
		require.Equal(t, map[string]bool{sent[big].ID: true}, c.lostFor(ReasonOversize), "OnLoss was told of it")
		assert.ErrorIs(t, c.lost[sent[big].ID].err, ErrOversize)
		requireAccounted(t, s)
	})
	if !rig.features.fallback {
		t.Logf("oversize with a file behind not run: nothing can follow the %s backend in the cascade", rig.kind)
		return
	}
	t.Run("with a file behind", func(t *testing.T) {
		fallback := t.TempDir()
		c := confOpen(t, rig, false, func(cfg *Config) {
			cfg.File = FileConfig{Dir: fallback}
			cfg.Order = []Kind{rig.kind, KindFile}
		})
		sent := c.send(t, "oversize", n, 100, mark)
		c.flushOK(t)
		landed := c.target.landed(t)
		c.closeOK(t)

		requireLandedOnce(t, pick(sent, others), landed)
		inFile := confReadFile(t, filepath.Join(fallback, "svc"))
		requireLandedOnce(t, sent[big:big+1], inFile)
		require.Len(t, inFile, 1, "only the oversize entry went on to the file")
		s := c.Stats()
		assert.Equal(t, uint64(n), s.Written)
		assert.Zero(t, s.Lost)
		requireAccounted(t, s)
	})
}

// confCancelled: a Flush whose context is cancelled while its write is in
// flight returns at once with ErrNotWritten and ctx's error; the entries
// stay with the drain, and once the backend answers again the next Flush
// writes them all, none lost.
func confCancelled(t *testing.T, rig backendRig) {
	const n = 20
	c := confOpen(t, rig, true, func(cfg *Config) {
		// No write before the Flush: the write in flight is the Flush's.
		cfg.FlushIntervalMS = confHourMS
		cfg.Retry = RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 20}
	})
	inFlight, release := c.target.hang(t)
	sent := c.send(t, "cancel", n, hungPayload, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(ctx) }()
	awaitInFlight(t, inFlight, rig)
	cancel()
	err := confWithin(t, "Flush with its context cancelled", flushed)
	require.ErrorIs(t, err, ErrNotWritten)
	require.ErrorIs(t, err, context.Canceled)

	release()
	c.flushOK(t)
	landed := c.target.landed(t)
	c.closeOK(t)

	dup := 0
	for _, e := range sent {
		copies := landed[e.ID]
		require.NotEmpty(t, copies, "entry %s landed after the backend came back", e.ID)
		requirePayload(t, e, copies)
		dup += len(copies) - 1
	}
	// At least once: a request sent before the cancel may still be
	// applied; the entry's id lets a consumer drop the second copy.
	t.Logf("%d copies beyond the first (a cancelled write the backend applied)", dup)
	s := c.Stats()
	assert.Equal(t, uint64(n), s.Written)
	assert.Zero(t, s.Lost)
	requireAccounted(t, s)
}

// confCloseDeadline: Close with a deadline, while the backend hangs on a
// write, returns by that deadline (a failure only past confLiveness) with
// every entry accounted: lost with reason shutdown, as its error says.
func confCloseDeadline(t *testing.T, rig backendRig) {
	const n = 40
	c := confOpen(t, rig, true, nil)
	inFlight, release := c.target.hang(t)
	sent := c.send(t, "close", n, hungPayload, nil)
	awaitInFlight(t, inFlight, rig)
	closeErr := c.closeWithin(t)
	release()
	c.noLeaks(t)

	require.Error(t, closeErr)
	assert.ErrorContains(t, closeErr, fmt.Sprintf("%d entries lost", n))
	assert.ErrorIs(t, closeErr, context.DeadlineExceeded)
	s := c.Stats()
	assert.Equal(t, map[LossReason]uint64{ReasonShutdown: n}, s.LostBy)
	assert.Zero(t, s.Written)
	assert.Zero(t, s.Held, "nothing held after Close")
	want := map[string]bool{}
	for _, e := range sent {
		want[e.ID] = true
	}
	assert.Equal(t, want, c.lostFor(ReasonShutdown), "OnLoss was told of each entry")
	requireAccounted(t, s)
}

// confNoGoroutineLeft: nothing the Orchestrator or its backend started
// outlives Close, whether the backend was never used, wrote, or hung at
// Close. (Every subtest above checks it too, after its own Close.)
func confNoGoroutineLeft(t *testing.T, rig backendRig) {
	t.Run("never written", func(t *testing.T) {
		confOpen(t, rig, false, nil).closeOK(t)
	})
	t.Run("written then idle", func(t *testing.T) {
		c := confOpen(t, rig, false, nil)
		c.send(t, "idle", 10, 100, nil)
		c.flushOK(t)
		c.send(t, "idle2", 10, 100, nil)
		c.flushOK(t)
		c.closeOK(t)
	})
	t.Run("hung at Close", func(t *testing.T) {
		c := confOpen(t, rig, true, nil)
		c.send(t, "before", 5, 100, nil)
		c.flushOK(t)
		inFlight, release := c.target.hang(t)
		c.send(t, "hung", 5, hungPayload, nil)
		awaitInFlight(t, inFlight, rig)
		_ = c.closeWithin(t) // the Close deadline subtest checks what it says
		release()
		c.noLeaks(t)
	})
}

// confCase is one subtest's Orchestrator, over a fresh target of its rig.
type confCase struct {
	*Orchestrator
	target rigTarget
	leaks  goleak.Option // the goroutines that ran before New

	mu   sync.Mutex
	lost map[string]confLoss // what OnLoss was told, by id
}

type confLoss struct {
	reason LossReason
	err    error
}

// confOpen starts a target of rig (for faults when asked) and builds an
// Orchestrator with its Kind as the only backend (before tweak). Should
// the test fail before it closes the Orchestrator, it is closed at the end.
func confOpen(t *testing.T, rig backendRig, faults bool, tweak func(*Config)) *confCase {
	t.Helper()
	c := &confCase{target: rig.start(t, faults), lost: map[string]confLoss{}}
	c.leaks = goleak.IgnoreCurrent()
	cfg := Config{Service: "svc", Logger: slog.New(slog.DiscardHandler), OnLoss: c.onLoss}
	c.target.configure(&cfg)
	if tweak != nil {
		tweak(&cfg)
	}
	var err error
	c.Orchestrator, err = New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), confDeadline)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func (c *confCase) onLoss(e Entry, reason LossReason, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lost[e.ID] = confLoss{reason, err}
}

// lostFor returns the ids OnLoss was told were lost for reason.
func (c *confCase) lostFor(reason LossReason) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for id, loss := range c.lost {
		if loss.reason == reason {
			out[id] = true
		}
	}
	return out
}

// send sends n entries with ids prefix-000…, payloads of about size bytes
// (every byte value among them), and returns them as sent. each, when
// set, adjusts entry i before it is sent.
func (c *confCase) send(t *testing.T, prefix string, n, size int, each func(i int, e *Entry)) []Entry {
	t.Helper()
	sent := make([]Entry, n)
	for i := range sent {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		e := Entry{ID: id, Reason: "conformance", Error: "case " + id, Payload: confPayload(id, size)}
		if each != nil {
			each(i, &e)
		}
		ctx, cancel := context.WithTimeout(t.Context(), confWait)
		err := c.SendContext(ctx, e)
		cancel()
		require.NoError(t, err)
		sent[i] = e
	}
	return sent
}

func (c *confCase) flushOK(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), confWait)
	defer cancel()
	require.NoError(t, c.Flush(ctx))
}

// closeOK closes without error, and requires that no goroutine is left.
func (c *confCase) closeOK(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), confWait)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	c.noLeaks(t)
}

// closeWithin closes with a deadline of confDeadline and returns Close's
// error, failing the test if Close has not returned by confLiveness.
func (c *confCase) closeWithin(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), confDeadline)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- c.Close(ctx) }()
	return confWithin(t, "Close with a deadline", closed)
}

// noLeaks requires that no goroutine started since New is left.
func (c *confCase) noLeaks(t *testing.T) {
	t.Helper()
	goleak.VerifyNone(t, c.leaks)
}

// confPayload is id followed by size bytes cycling through every byte
// value, so that a payload mangled on its way (text, escaping, base64)
// does not compare equal.
func confPayload(id string, size int) []byte {
	p := append(make([]byte, 0, len(id)+1+size), id...)
	p = append(p, '|')
	for i := range size {
		p = append(p, byte(i*7))
	}
	return p
}

// pick returns the entries of sent whose id keep selects.
func pick(sent []Entry, keep func(id string) bool) []Entry {
	var out []Entry
	for _, e := range sent {
		if keep(e.ID) {
			out = append(out, e)
		}
	}
	return out
}

// requireLandedOnce requires every entry of want in landed exactly once,
// with its bytes intact.
func requireLandedOnce(t *testing.T, want []Entry, landed map[string][]Entry) {
	t.Helper()
	for _, e := range want {
		require.Len(t, landed[e.ID], 1, "entry %s landed exactly once", e.ID)
		requirePayload(t, e, landed[e.ID])
	}
}

// requirePayload requires each copy to carry e's bytes and fields.
func requirePayload(t *testing.T, e Entry, copies []Entry) {
	t.Helper()
	for _, got := range copies {
		require.Equal(t, e.Payload, got.Payload, "entry %s: payload bytes intact", e.ID)
		require.Equal(t, e.Reason, got.Reason, "entry %s", e.ID)
		require.Equal(t, e.Error, got.Error, "entry %s", e.ID)
		require.Equal(t, e.Destination, got.Destination, "entry %s", e.ID)
		require.Equal(t, "svc", got.Service, "entry %s", e.ID)
	}
}

// awaitInFlight waits until a write has reached the backend: a state the
// rig reports (a broker or server hook, the backend's error), not a time.
func awaitInFlight(t *testing.T, inFlight func() bool, rig backendRig) {
	t.Helper()
	what := "a write hangs in the backend"
	if !rig.features.hangs {
		what = "the backend refused a write"
	}
	require.Eventually(t, inFlight, confWait, time.Millisecond, what)
}

// confWithin waits for result, failing the test past confLiveness.
func confWithin(t *testing.T, what string, result <-chan error) error {
	t.Helper()
	select {
	case err := <-result:
		return err
	case <-time.After(confLiveness):
		require.FailNow(t, what+" did not return", "still blocked after %s", confLiveness)
		return nil
	}
}

// confReadFile reads a service folder back with the Reader, by id; every
// line must be an envelope.
func confReadFile(t *testing.T, dir string) map[string][]Entry {
	t.Helper()
	r, err := OpenReader(dir, ReaderOptions{Warn: func(err error) { t.Errorf("reading %s: %v", dir, err) }})
	require.NoError(t, err)
	out := map[string][]Entry{}
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		out[rec.Entry.ID] = append(out[rec.Entry.ID], rec.Entry)
	}
	require.Zero(t, r.Stats().Unreadable, "every line in %s is an envelope", dir)
	return out
}

// fileRig is the file backend: a folder of its own (t.TempDir), or for
// faults a small tmpfs that the rig fills.
func fileRig() backendRig {
	return backendRig{kind: KindFile, features: rigFeatures{
		// A config has one file backend, and nothing follows it.
		fallback: false,
		// file.max_size_mb at its least, 1: a line longer than the size
		// at which the file rotates is refused.
		maxEntryBytes: megabyte - 1,
		// A write is write(2) on a local file: nothing can hold it in
		// flight short of a file system that never answers, from which
		// no context could free the drain either. A full disk refuses
		// it instead.
		hangs: false,
	}, start: startFileTarget}
}

type fileTarget struct {
	dir    string
	fs     *testenv.Tmpfs // nil without faults
	errors atomic.Int64   // backend failures seen by OnError
}

func startFileTarget(t *testing.T, faults bool) rigTarget {
	f := &fileTarget{dir: t.TempDir()}
	if faults {
		f.fs = testenv.MountTmpfs(t, 4<<20)
		f.dir = f.fs.Dir
	}
	return f
}

func (f *fileTarget) configure(cfg *Config) {
	cfg.File = FileConfig{Dir: f.dir, MaxSizeMB: 1}
	cfg.OnError = func(error) { f.errors.Add(1) }
}

func (f *fileTarget) landed(t *testing.T) map[string][]Entry {
	return confReadFile(t, filepath.Join(f.dir, "svc"))
}

// refuseSome fills the tmpfs but for two pages: the batch's write stops
// inside a line, and the lines past it fail.
func (f *fileTarget) refuseSome(t *testing.T) (func(int, *Entry), func([]Entry) map[string]bool) {
	t.Helper()
	require.NotNil(t, f.fs, "refuseSome needs a target started with faults")
	free := f.fs.Fill()
	t.Cleanup(free)
	ballast := filepath.Join(f.fs.Dir, "ballast")
	info, err := os.Stat(ballast)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(ballast, info.Size()-2*4096))
	return nil, nil
}

// hang fills the tmpfs: every write is refused (ENOSPC) until release.
func (f *fileTarget) hang(t *testing.T) (func() bool, func()) {
	t.Helper()
	require.NotNil(t, f.fs, "hang needs a target started with faults")
	before := f.errors.Load()
	free := f.fs.Fill()
	var once sync.Once
	release := func() { once.Do(free) }
	t.Cleanup(release)
	return func() bool { return f.errors.Load() > before }, release
}

func TestNewNamesTheMissingBuildTag(t *testing.T) {
	for _, test := range []struct {
		kind Kind
		cfg  Config
	}{
		{KindKafka, Config{Service: "s", Kafka: KafkaConfig{Brokers: []string{"127.0.0.1:9092"}}}},
		{KindHTTP, Config{Service: "s", HTTP: HTTPConfig{URL: "http://127.0.0.1:1/ingest"}}},
		{KindRedis, Config{Service: "s", Redis: RedisConfig{URL: "redis://127.0.0.1:6379"}}},
	} {
		t.Run(test.kind.String(), func(t *testing.T) {
			test.cfg.File.Dir = t.TempDir()
			if built(test.kind) {
				// This build has it (tag %s): New builds it, and a
				// server down at start is no error.
				o, err := New(test.cfg)
				require.NoError(t, err, "built with %s", buildTags[test.kind])
				closeOK(t, o)
				return
			}
			_, err := New(test.cfg)
			require.ErrorIs(t, err, ErrBackendNotBuilt)
			assert.ErrorContains(t, err, buildTags[test.kind])
			assert.ErrorContains(t, err, "dlq_all")
		})
	}
}

func TestKindNames(t *testing.T) {
	for k, name := range map[Kind]string{KindFile: "file", KindKafka: "kafka", KindHTTP: "http", KindRedis: "redis"} {
		assert.Equal(t, name, k.String())
		var back Kind
		require.NoError(t, back.UnmarshalText([]byte(name)))
		assert.Equal(t, k, back)
	}
	assert.Equal(t, "invalid", Kind(0).String())
	_, err := Kind(0).MarshalText()
	assert.Error(t, err)
}

func TestBackendZeroValuePanicsNamingTheKind(t *testing.T) {
	var b backend
	assert.PanicsWithValue(t, "dlq: sync on backend of unknown kind 0", func() { _ = b.sync(t.Context()) })
}
