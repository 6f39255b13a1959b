package main

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/clock"
	"github.com/urfave/cli/v3"
)

// Header names a replay adds to each message it sends.
const (
	headerReplayOf    = "dlq.replay_of"
	headerReplayCount = "dlq.replay_count"
	replayBatch       = 100 // messages confirmed (and checkpointed) together
)

func replayCommand() *cli.Command {
	return &cli.Command{
		Name:  "replay",
		Usage: "send each entry's original message (payload, key, headers) back to TARGET",
		Description: "TARGET is one of:\n" +
			"  kafka://HOST:PORT/TOPIC           TOPIC may be {source.topic} (the default) or {destination};\n" +
			"                                    needs -tags dlq_kafka or dlq_all\n" +
			"  http(s)://URL                     one POST per payload, retried on 429 and 5xx; a redirect is followed\n" +
			"                                    only as a 307 or 308 to the same scheme, host and port; always built in\n" +
			"  redis://HOST:PORT/DB?stream=NAME  field payload, plus the headers as fields; needs -tags dlq_redis or dlq_all\n" +
			"Each message carries dlq.replay_of (the entry's id) and dlq.replay_count. Only what SRC held at the\n" +
			"start is replayed.\n\n" + sourceHelp,
		ArgsUsage: "SRC --to TARGET",
		Flags: append(filterFlags(),
			&cli.StringFlag{Name: "to", Required: true, Usage: "where to send the messages"},
			&cli.FloatFlag{Name: "rate", Usage: "at most this many messages per second (0: no cap)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "read and count, send nothing"},
			&cli.StringFlag{Name: "checkpoint", Usage: "record in FILE the last entry the target confirmed, and resume after it (FILE belongs to this source, target and filters)"},
			&cli.IntFlag{Name: "max-replays", Usage: "refuse entries already replayed this many times (0: no limit)"},
		),
		Action: runReplay,
	}
}

// replayMsg is one message to send back.
type replayMsg struct {
	entry   *dlq.Entry
	headers []dlq.Header // the originals, then dlq.replay_of and dlq.replay_count
	pos     string       // the entry's Record.Position
}

// replayCount returns how many times e was replayed already, from its
// headers or its metadata.
func replayCount(e *dlq.Entry) int {
	for i := len(e.Headers) - 1; i >= 0; i-- {
		if e.Headers[i].Key == headerReplayCount {
			n, _ := strconv.Atoi(string(e.Headers[i].Value))
			return n
		}
	}
	n, _ := strconv.Atoi(e.Metadata[headerReplayCount])
	return n
}

// replayHeaders returns e's headers with an earlier replay's marks
// replaced by this one's.
func replayHeaders(e *dlq.Entry, count int) []dlq.Header {
	out := make([]dlq.Header, 0, len(e.Headers)+2)
	for _, h := range e.Headers {
		if h.Key != headerReplayOf && h.Key != headerReplayCount {
			out = append(out, h)
		}
	}
	return append(out,
		dlq.Header{Key: headerReplayOf, Value: []byte(e.ID)},
		dlq.Header{Key: headerReplayCount, Value: strconv.AppendInt(nil, int64(count), 10)})
}

// replayRun is one replay's state.
type replayRun struct {
	target  *target
	limiter *limiter // nil: no --rate
	pending []replayMsg
	handled string // position of the last entry queued or refused

	cpPath   string
	cp       checkpoint // as last saved or loaded
	every    uint64     // with --rate: rewrite the checkpoint after this many confirmed entries
	saved    uint64     // sent when the checkpoint was last rewritten
	savedPos string     // the position it holds
	lastSave time.Time
	base     uint64 // replayed by earlier runs, from the checkpoint

	sent    uint64 // confirmed by the target in this run
	refused uint64
	failed  int
	err     error // the target's failure that stopped the replay
	bar     *progress
	// confirmed is sent, for the progress line's goroutine.
	confirmed atomic.Uint64
}

func runReplay(ctx context.Context, cmd *cli.Command) error {
	src, err := oneSource(cmd)
	if err != nil {
		return err
	}
	to, rate, maxReplays := cmd.String("to"), cmd.Float("rate"), int(cmd.Int("max-replays"))
	if rate < 0 || maxReplays < 0 {
		return fmt.Errorf("%w: --rate and --max-replays cannot be negative", errUsage)
	}
	filter, err := filterOf(cmd, time.Now())
	if err != nil {
		return err
	}
	dryRun := cmd.Bool("dry-run")
	run := &replayRun{cpPath: cmd.String("checkpoint"), cp: newCheckpoint(src, to, replayFilterOf(cmd, filter)),
		every: checkpointEvery(rate), lastSave: time.Now()}
	if run.target, err = parseTarget(to); err != nil {
		return err
	}
	out := cmd.Root().Writer
	if run.cpPath != "" {
		if run.cp, err = loadCheckpoint(run.cpPath, run.cp); err != nil {
			return err
		}
		run.cp.Filter.apply(&filter)
		run.base, run.savedPos = run.cp.Replayed, run.cp.Position
		if run.cp.Position != "" {
			fmt.Fprintf(out, "resuming after %s, %d replayed before\n", printable(run.cp.Position, len(run.cp.Position)), run.base)
		}
	}
	if !dryRun { // a dry run neither connects nor queues: it reads and counts
		run.limiter = newLimiter(rate)
		if err := run.target.open(); err != nil {
			return err
		}
		defer func() { _ = run.target.close() }()
	}
	r, err := dlq.OpenReader(src, dlq.ReaderOptions{Filter: filter, After: run.cp.Position, Warn: readWarnings(cmd)})
	if err != nil {
		return err
	}
	run.bar = newProgress(cmd, "replay", r)
	run.bar.also(func() string { return "sent " + thousands(run.confirmed.Load()) })
	var readErr error
	for rec, err := range records(ctx, r, run.bar) {
		if err != nil {
			readErr = err
			break
		}
		count := replayCount(&rec.Entry)
		if maxReplays > 0 && count >= maxReplays {
			run.refused++
			run.handled = rec.Position
			continue
		}
		if dryRun {
			run.sent++
			continue
		}
		if wait := run.limiter.reserve(time.Now()); wait > 0 {
			if run.flush(ctx) != nil {
				break
			}
			if !clock.Sleep(ctx, wait) {
				break
			}
		}
		e := rec.Entry
		run.pending = append(run.pending, replayMsg{entry: &e, headers: replayHeaders(&e, count+1), pos: rec.Position})
		run.handled = rec.Position
		if len(run.pending) == replayBatch && run.flush(ctx) != nil {
			break
		}
	}
	if !dryRun && run.err == nil && ctx.Err() == nil {
		_ = run.flush(ctx)
	}
	var saveErr error
	if !dryRun {
		saveErr = run.save() // what the target confirmed, however the run ended
	}
	run.bar.done()
	stats := r.Stats()
	verb := "replayed"
	if dryRun {
		verb = "dry run: would replay"
	}
	refused := "" // only --max-replays refuses entries
	if maxReplays > 0 {
		refused = fmt.Sprintf("; refused %d (replayed %d times or more)", run.refused, maxReplays)
	}
	fmt.Fprintf(out, "%s %d to %s%s; failed %d; unreadable %d\n",
		verb, run.sent, redacted(to), refused, run.failed, stats.Unreadable)
	switch {
	case run.err != nil:
		return fmt.Errorf("replay stopped: %d sent, %d failed: %w", run.sent, run.failed, run.err)
	case ctx.Err() != nil:
		return fmt.Errorf("replay stopped: %d sent: %w", run.sent, ctx.Err())
	case readErr != nil:
		return fmt.Errorf("replay stopped: %d sent: %w", run.sent, readErr)
	case saveErr != nil:
		return fmt.Errorf("replay: %d sent: %w", run.sent, saveErr)
	}
	return nil
}

// flush sends the pending messages and moves the confirmed position past
// those the target confirmed, rewriting the checkpoint when it is due. A
// failure stops the replay; an interruption (ctx ended) is not a failure:
// the entries it cut off are sent by the rerun.
func (run *replayRun) flush(ctx context.Context) error {
	if len(run.pending) > 0 {
		sent, err := run.target.send(ctx, run.pending)
		run.confirm(sent)
		if err != nil {
			if ctx.Err() == nil {
				run.failed, run.err = len(run.pending)-sent, err
			}
			return err
		}
		clear(run.pending)
		run.pending = run.pending[:0]
	}
	run.cp.Position = run.handled
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
	run.confirmed.Store(run.sent)
	run.cp.Position, run.cp.Replayed = run.pending[sent-1].pos, run.base+run.sent
}

// due reports whether the checkpoint should be rewritten now: with --rate N
// every N/4 confirmed entries, without every checkpointInterval; either way
// at most a few times a second.
func (run *replayRun) due(now time.Time) bool {
	switch {
	case run.cpPath == "":
		return false
	case run.every > 0:
		return run.sent-run.saved >= run.every
	}
	return now.Sub(run.lastSave) >= checkpointInterval
}

// save rewrites the checkpoint with what the target confirmed, when that
// moved since the last time.
func (run *replayRun) save() error {
	if run.cpPath == "" || run.cp.Position == "" || run.cp.Position == run.savedPos {
		return nil
	}
	if err := run.cp.save(run.cpPath); err != nil {
		return err
	}
	run.saved, run.savedPos, run.lastSave = run.sent, run.cp.Position, time.Now()
	return nil
}
