package dlq

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/dlqkit/dlq/internal/clock"
)

// HeaderReplayOf and HeaderReplayCount are the headers [Replay] adds to
// each message it sends: the id of the entry replayed, and how many times
// that entry's message has been replayed, this time included. An earlier
// replay's marks are replaced, not repeated. A consumer that fails on a
// replayed message again and hands it to the DLQ with its headers keeps
// them, so that the next replay counts on (see ReplayOptions.MaxReplays).
const (
	HeaderReplayOf    = "dlq.replay_of"
	HeaderReplayCount = "dlq.replay_count"
)

// replayBatch is how many messages are sent, confirmed and checkpointed
// together.
const replayBatch = 100

// ReplayOptions configures [Replay]. The zero value replays every entry the
// source holds when the replay starts, as fast as the target takes them,
// without a checkpoint.
type ReplayOptions struct {
	// Filter selects the entries to replay; the zero Filter selects all.
	Filter Filter
	// Since and Until, when set, replace Filter.Since and Filter.Until
	// with a time as [ParseTimeBound] reads it: an RFC 3339 time, or a
	// duration back from now ("2h", "7d"). With a Checkpoint, a duration
	// stands for the time it meant when the replay first began: resumed
	// a day later, the replay selects the same entries.
	Since, Until string
	// Rate caps the messages sent, in messages per second. Over any span
	// of time T at most Rate·(T+50ms)+1 go. Defaults to 0: no cap.
	Rate float64
	// MaxReplays refuses the entries already replayed this many times or
	// more (by their HeaderReplayCount header, or metadata key), counting
	// them in ReplayResult.Refused. Defaults to 0: no limit.
	MaxReplays int
	// DryRun reads and counts the entries that would be sent, and neither
	// connects to the target, nor sends, nor writes the checkpoint.
	DryRun bool
	// Checkpoint is a file that records how far the target confirmed the
	// replay, and for which source, target and selection (Filter, Since,
	// Until, MaxReplays). A replay given the file of an earlier run of the
	// same replay resumes after the last entry that run's target
	// confirmed; one given another replay's file fails with a
	// *CheckpointError, before sending anything. The file is rewritten at
	// most four times a second, durably (written aside, fsynced, renamed):
	// a replay killed at any moment sends again at most Rate/4 entries
	// (without a Rate, a quarter second's worth) and the batch of 100 it
	// was sending. Defaults to "": no checkpoint.
	Checkpoint string
	// OnProgress, when set, is told how the replay goes: once when it
	// begins (after the checkpoint was read: Resumed says whether it
	// resumes), every ProgressInterval while it runs, and once when it
	// ends, with the counts Replay returns. Calls never overlap; they come
	// from Replay's goroutine or one of its own, and a slow OnProgress
	// delays only the next call, not the replay.
	OnProgress func(ReplayProgress)
	// ProgressInterval is how often OnProgress is called while the replay
	// runs. Defaults to 1 s.
	ProgressInterval time.Duration
	// Warn, when set, is told of each file of the source read in part or
	// not at all, as [ReaderOptions.Warn] is. Nil: slog.Default logs them.
	Warn func(error)

	// The automatic rate (issue 23).

	// RateAuto lets the replay find the rate the target takes, instead of
	// a fixed Rate (set one or the other): it begins at MaxRate/100 and
	// rises by MaxRate/100 every quarter second the target takes messages
	// without a sign of load, up to MaxRate; it halves (once a second at
	// most, never below 1 a second) when the target answers HTTP 429, 503
	// or another 5xx (Retry-After honoured), when a Kafka broker throttles
	// a produce (its throttle time waited out) or fails one, and when the
	// target's latency doubles over its moving average. ReplayProgress.Rate
	// tells the rate in force. Defaults to false: Rate, or no cap.
	RateAuto bool
	// MaxRate bounds RateAuto's rate, in messages per second; it is an
	// error without RateAuto. Defaults to 0: 10,000 a second.
	MaxRate float64

	// The ledger of confirmed entries and the audit record (replay_ledger.go, replay_audit.go).

	// Ledger is a file to which each entry the target confirmed is
	// appended, as a JSON line {"at","to","id"} ([LedgerRecord], read with
	// [ReadLedger]): the time, the target (its password hidden) and the
	// entry's id. It is written after each batch the target confirmed and
	// fsynced before the checkpoint moves past it, so that it is never
	// behind the checkpoint: a replay killed at any moment leaves in it
	// every entry the target confirmed but the request in flight (HTTP,
	// which confirms and records message by message) or the batch it was
	// sending (Kafka, Redis). A
	// dry run does not write it. Defaults to "": CHECKPOINT.ledger with a
	// Checkpoint, else none.
	Ledger string
	// OnlyPending skips the entries the ledger says the same target (the
	// same URL) confirmed already, counting them in
	// ReplayResult.AlreadyReplayed: a rerun with another selection, or
	// after a kill, sends no entry twice; a replay to another target sends
	// them. It needs a ledger (Ledger or Checkpoint). It holds the ids of
	// the target's lines in memory: about 40 bytes per UUID (40 MB for a
	// million entries), the id's length more for ids of other forms.
	OnlyPending bool
	// Audit is a file to which each run (a dry run too) appends one JSON
	// line, fsynced, when it ends: who ran it (user, host), when (start,
	// end), the source, target (its password hidden), selection, options,
	// counts, and its outcome ("done", "interrupted", "target failed",
	// "stopped") with the error. A run killed by SIGKILL appends none;
	// the next run's counts (before, from) tell where it stopped.
	// Defaults to "": next to the ledger, named as the ledger with .audit
	// for .ledger (CHECKPOINT.audit, LEDGER.audit), else none.
	Audit string
	// The canary: Canary, when positive, sends the first Canary entries,
	// then waits CanaryWait (default 30 s) while it follows Watch (default:
	// src itself) from its end for new entries carrying HeaderReplayOf
	// with the id of an entry this run sent: those came back, the consumer
	// still fails on them. If more than AbortAbove (default 0.05; 1 never
	// aborts) of the canary came back, the replay stops with a
	// *ReplayAbortError; else it goes on, and judges every later window
	// of Canary entries the same way while it runs, from the moment it is
	// sent: a window stops the replay as soon as more than AbortAbove of
	// it came back, so at full speed about Rate·CanaryWait entries may go
	// out between a fix breaking and the stop. The ids of a window are
	// watched for twice CanaryWait after it was confirmed. A replay that
	// sent everything waits CanaryWait after its last window, which is
	// judged by its own size, and returns the *ReplayAbortError (with
	// Ended) if it came back. A dry run does not watch.
	Canary     int
	CanaryWait time.Duration
	AbortAbove float64
	Watch      string

	// onBatch, when set, hears of each send to the target, from Replay's
	// goroutine: the messages the target confirmed (a prefix of the batch,
	// all of it unless err), how long the send took and what the target
	// said of its load. The seam of what watches a replay batch by batch
	// (a canary, an adaptive rate, a ledger of confirmed ids); tests set
	// it.
	onBatch func(confirmed []replayMsg, rep *sendReport, err error)
}

// defaultProgressInterval is ReplayOptions.ProgressInterval's default.
const defaultProgressInterval = time.Second

func (o *ReplayOptions) progressInterval() time.Duration {
	if o.ProgressInterval <= 0 {
		return defaultProgressInterval
	}
	return o.ProgressInterval
}

// ReplayResult counts what a [Replay] did.
type ReplayResult struct {
	// Read is how many entries were read from the source, selected or
	// not (those before a resumed checkpoint's position are not read).
	Read uint64
	// Sent is how many entries the target confirmed in this run; in a dry
	// run, how many would have been sent.
	Sent uint64
	// Refused is how many entries MaxReplays refused.
	Refused uint64
	// Failed is how many entries of the batch the target failed were not
	// confirmed by it.
	Failed uint64
	// Skipped is how many entries read the selection ruled out.
	Skipped uint64
	// Unreadable is how many lines or messages of the source were not
	// envelopes (torn, foreign or too long).
	Unreadable uint64
	// Resumed reports that the run resumed from a checkpoint.
	Resumed bool
	// From is the checkpoint's position the run resumed after: the
	// Record.Position of the last entry earlier runs' target confirmed.
	From string
	// Before is how many entries earlier runs of the same replay sent.
	Before uint64

	// The ledger (replay_ledger.go).

	// AlreadyReplayed is how many entries OnlyPending skipped, the ledger
	// saying the target confirmed them already (not counted in Skipped).
	AlreadyReplayed uint64
	// CameBack is how many entries this run sent came back to the watched
	// DLQ (ReplayOptions.Canary).
	CameBack uint64
}

// ReplayProgress is how far a [Replay] got: the result it would return if
// it ended now, where it is in the source, and its rate.
type ReplayProgress struct {
	ReplayResult
	// Position is the Record.Position of the last entry handled (sent,
	// queued to send, or refused).
	Position string
	// Rate is the cap on messages per second in force (with RateAuto,
	// the automatic rate as it is now); 0: none.
	Rate float64
}

// Replay sends each entry of src back to target: its original payload,
// key and headers, plus [HeaderReplayOf] and [HeaderReplayCount]. src
// takes the forms [OpenReader] takes. target is one of:
//
//   - kafka://HOST:PORT/TOPIC: each message to TOPIC, which may be
//     {source.topic} (the default when TOPIC is empty) or {destination},
//     keyed by the original key; needs build tag dlq_kafka or dlq_all.
//   - http(s)://URL: one POST per payload, its headers as HTTP headers,
//     retried on 429 and 5xx (honouring Retry-After); a redirect is
//     followed only as a 307 or 308 to the same scheme, host and port.
//     Built in every build.
//   - redis://HOST:PORT/DB?stream=NAME (rediss://, unix:// too): an XADD
//     to the stream per message, field payload and the headers as fields;
//     needs build tag dlq_redis or dlq_all.
//
// Without its tag a target fails with an error matching
// ErrBackendNotBuilt that names the tag; a URL of another form fails with
// ErrInvalidTarget. Only what src held when the replay began is replayed,
// so that a replay into the DLQ's own source does not feed itself.
// Messages go in the source's order, in batches of 100 confirmed
// together; the first failure of the target stops the replay.
//
// A replay that stops before the end of its source (the target failed, the
// source could not be read, ctx ended) returns a *ReplayError with the
// counts so far, as does one whose checkpoint, ledger or audit record
// could not be written; the ReplayResult is then valid too. Any other error (options, target URL,
// checkpoint of another replay, source form) comes before anything is read
// or sent, with a zero ReplayResult.
func Replay(ctx context.Context, src, target string, opts ReplayOptions) (ReplayResult, error) {
	if opts.Rate < 0 || math.IsNaN(opts.Rate) || math.IsInf(opts.Rate, 0) {
		return ReplayResult{}, fmt.Errorf("dlq: replay: rate %v is not a number of messages per second", opts.Rate)
	}
	if err := validAutoRate(&opts); err != nil {
		return ReplayResult{}, err
	}
	if opts.MaxReplays < 0 {
		return ReplayResult{}, fmt.Errorf("dlq: replay: max replays %d is negative", opts.MaxReplays)
	}
	if err := opts.validateCanary(); err != nil {
		return ReplayResult{}, err
	}
	filter, sel, err := replaySelection(&opts, time.Now())
	if err != nil {
		return ReplayResult{}, err
	}
	t, err := parseReplayTarget(target)
	if err != nil {
		return ReplayResult{}, err
	}
	release, err := lockReplay(&opts) // one replay at a time on a checkpoint or a ledger
	if err != nil {
		return ReplayResult{}, err
	}
	defer release()
	run := &replayRun{opts: &opts, target: t, cp: newCheckpoint(src, target, sel),
		every: checkpointEvery(opts.Rate), lastSave: time.Now()}
	if opts.Checkpoint != "" {
		if run.cp, err = loadCheckpoint(opts.Checkpoint, run.cp); err != nil {
			return ReplayResult{}, err
		}
		run.cp.Filter.apply(&filter)
		run.base, run.savedPos = run.cp.Replayed, run.cp.Position
		run.from = run.cp.Position
	}
	if !opts.DryRun { // a dry run neither connects nor queues: it reads and counts
		run.limiter = newLimiter(opts.Rate)
		if opts.RateAuto {
			run.auto = newAutoRate(opts.MaxRate, time.Now())
			run.limiter = run.auto.limiter
		}
		if err := t.open(); err != nil {
			return ReplayResult{}, err
		}
		defer func() { _ = t.close() }()
	}
	if run.reader, err = OpenReader(src, ReaderOptions{Filter: filter, After: run.cp.Position, Warn: opts.Warn}); err != nil {
		return ReplayResult{}, err
	}
	if run.canary, err = startCanary(ctx, &opts, src); err != nil {
		return ReplayResult{}, err
	}
	defer run.canary.stop()
	// closeRecords closes the ledger; this, when a callback panicked.
	defer func() { _ = run.ledger.close() }()
	if err := run.openRecords(src, target, sel); err != nil { // the ledger, the audit record
		return ReplayResult{}, err
	}
	run.progress = startProgress(&opts, run)
	stopErr := run.loop(ctx)
	var saveErr error
	if !opts.DryRun {
		saveErr = run.save() // what the target confirmed, however the run ended
	}
	res := run.result()
	res.CameBack = run.canary.count()
	run.progress.stop(res)
	saveErr = run.closeRecords(res, stopErr, saveErr)
	switch {
	case stopErr != nil:
		return res, stopErr
	case saveErr != nil:
		return res, &ReplayError{Sent: run.sent, Err: saveErr, whole: true}
	}
	return res, nil
}

// replayRun is one replay's state, owned by Replay's goroutine.
type replayRun struct {
	opts     *ReplayOptions
	target   *replayTarget
	reader   *Reader
	limiter  *limiter  // nil: no Rate
	auto     *autoRate // nil: no RateAuto; else it drives limiter
	progress *progressReporter
	canary   *canary // nil: no Canary
	pending  []replayMsg
	handled  string // position of the last entry queued or refused
	from     string // the checkpoint's position when the run began

	cp       checkpoint // as last saved or loaded
	every    uint64     // with a Rate: rewrite the checkpoint after this many confirmed entries
	saved    uint64     // sent when the checkpoint was last rewritten
	savedPos string     // the position it holds
	lastSave time.Time
	base     uint64 // replayed by earlier runs, from the checkpoint

	sent    uint64 // confirmed by the target in this run (a dry run: counted)
	refused uint64
	failed  uint64
	err     error // what stopped the replay in flush: the target's failure or the checkpoint's
	// targetFailed: err is the target's.
	targetFailed bool

	// The ledger and the audit record (replay_ledger.go, replay_audit.go).
	ledger          *replayLedger // nil: none
	recorded        int           // pending messages the ledger got one by one during a send (recordUpTo)
	audit           *auditRecord  // nil: none
	auditPath       string
	alreadyReplayed uint64 // skipped by OnlyPending
}

// loop reads the source and sends what it selects; it returns a
// *ReplayError when the replay stopped before the end.
func (run *replayRun) loop(ctx context.Context) error {
	maxReplays, dryRun := run.opts.MaxReplays, run.opts.DryRun
	var readErr error
	for rec, err := range run.reader.All(ctx) {
		if err != nil {
			readErr = err
			break
		}
		if run.skipReplayed(&rec) { // OnlyPending
			continue
		}
		count := replayCount(&rec.Entry)
		if maxReplays > 0 && count >= maxReplays {
			run.refused++
			run.handled = rec.Position
			run.progress.update(run, rec.Position)
			continue
		}
		if dryRun {
			run.sent++
			run.progress.update(run, rec.Position)
			continue
		}
		if wait := run.limiter.reserve(time.Now()); wait > 0 {
			due := time.Now().Add(wait) // the send below takes from the wait
			if run.flush(ctx) != nil {
				break
			}
			if !clock.Sleep(ctx, time.Until(due)) {
				break
			}
		}
		e := rec.Entry
		run.pending = append(run.pending, replayMsg{entry: &e, headers: replayHeaders(&e, count+1), pos: rec.Position})
		run.handled = rec.Position
		run.progress.update(run, rec.Position)
		if len(run.pending) == replayBatch && run.flush(ctx) != nil {
			break
		}
		if run.canary.cut(run.sent, len(run.pending)) && run.flush(ctx) != nil {
			break
		}
	}
	if !dryRun && run.err == nil && ctx.Err() == nil {
		_ = run.flush(ctx)
	}
	if readErr == nil && run.err == nil && ctx.Err() == nil {
		run.err = run.canary.end(ctx)
	}
	switch {
	case run.err != nil:
		return &ReplayError{Sent: run.sent, Failed: run.failed, Err: run.err, target: run.targetFailed}
	case ctx.Err() != nil:
		return &ReplayError{Sent: run.sent, Err: ctx.Err()}
	case readErr != nil:
		return &ReplayError{Sent: run.sent, Err: readErr}
	}
	return nil
}

// flush sends the pending messages and moves the confirmed position past
// those the target confirmed, rewriting the checkpoint when it is due. A
// failure stops the replay; an interruption (ctx ended) is not a failure:
// the entries it cut off are sent by the rerun.
func (run *replayRun) flush(ctx context.Context) error {
	if len(run.pending) > 0 {
		var rep sendReport
		if run.ledger != nil {
			rep.confirmed = run.recordUpTo
		}
		start := time.Now()
		run.canary.sending(run.pending)
		sent, err := run.target.send(ctx, run.pending, &rep)
		rep.took = time.Since(start)
		run.confirm(sent)
		if run.recordConfirmed(sent) != nil { // the ledger
			return run.err
		}
		if run.opts.onBatch != nil {
			run.opts.onBatch(run.pending[:sent], &rep, err)
		}
		run.auto.observe(time.Now(), sent, &rep)
		if err != nil {
			if ctx.Err() == nil {
				run.failed, run.err, run.targetFailed = uint64(len(run.pending)-sent), err, true
			}
			run.progress.update(run, run.handled)
			return err
		}
		clear(run.pending)
		run.pending = run.pending[:0]
		if run.err = run.canary.confirmed(ctx, run.sent); run.err != nil {
			return run.err
		}
	}
	run.cp.Position = run.handled
	run.progress.update(run, run.handled)
	if !run.due(time.Now()) {
		return nil
	}
	if err := run.save(); err != nil {
		run.err = err
		return err
	}
	return nil
}

// confirm counts the first sent pending messages as confirmed by the target.
func (run *replayRun) confirm(sent int) {
	if sent == 0 {
		return
	}
	run.sent += uint64(sent)
	run.cp.Position, run.cp.Replayed = run.pending[sent-1].pos, run.base+run.sent
}

// due reports whether the checkpoint should be rewritten now: with a Rate
// every Rate/4 confirmed entries, without every checkpointInterval; either
// way at most a few times a second.
func (run *replayRun) due(now time.Time) bool {
	switch {
	case run.opts.Checkpoint == "":
		return false
	case run.every > 0:
		return run.sent-run.saved >= run.every
	}
	return now.Sub(run.lastSave) >= checkpointInterval
}

// save rewrites the checkpoint with what the target confirmed, when that
// moved since the last time.
func (run *replayRun) save() error {
	if err := run.ledger.sync(); err != nil { // the ledger is never behind the checkpoint
		return err
	}
	if run.opts.Checkpoint == "" || run.cp.Position == "" || run.cp.Position == run.savedPos {
		return nil
	}
	if err := run.cp.save(run.opts.Checkpoint); err != nil {
		return err
	}
	run.saved, run.savedPos, run.lastSave = run.sent, run.cp.Position, time.Now()
	return nil
}

// result counts what the run did so far.
func (run *replayRun) result() ReplayResult {
	var st ReadStats
	if run.reader != nil {
		st = run.reader.Stats()
	}
	return ReplayResult{
		Read: st.Read, Sent: run.sent, Refused: run.refused, Failed: run.failed,
		Skipped: st.Read - min(st.Matched, st.Read), Unreadable: st.Unreadable,
		Resumed: run.from != "", From: run.from, Before: run.base,
		AlreadyReplayed: run.alreadyReplayed,
	}
}

// replayCount returns how many times e was replayed already, from its
// headers or its metadata.
func replayCount(e *Entry) int {
	for i := len(e.Headers) - 1; i >= 0; i-- {
		if e.Headers[i].Key == HeaderReplayCount {
			n, _ := strconv.Atoi(string(e.Headers[i].Value))
			return n
		}
	}
	n, _ := strconv.Atoi(e.Metadata[HeaderReplayCount])
	return n
}

// replayHeaders returns e's headers with an earlier replay's marks
// replaced by this one's.
func replayHeaders(e *Entry, count int) []Header {
	out := make([]Header, 0, len(e.Headers)+2)
	for _, h := range e.Headers {
		if h.Key != HeaderReplayOf && h.Key != HeaderReplayCount {
			out = append(out, h)
		}
	}
	return append(out,
		Header{Key: HeaderReplayOf, Value: []byte(e.ID)},
		Header{Key: HeaderReplayCount, Value: strconv.AppendInt(nil, int64(count), 10)})
}
