package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dlqkit/dlq"
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
		Description: "TARGET is kafka://HOST:PORT/TOPIC (TOPIC may be {source.topic}, the default, or {destination}),\n" +
			"http(s)://URL (one POST per payload, retried on 429 and 5xx), or redis://HOST:PORT/DB?stream=NAME\n" +
			"(field payload, plus the headers as fields). Each message carries dlq.replay_of (the entry's id)\n" +
			"and dlq.replay_count. Only what SRC held at the start is replayed.",
		ArgsUsage: "SRC --to TARGET",
		Flags: append(filterFlags(),
			&cli.StringFlag{Name: "to", Required: true, Usage: "where to send the messages"},
			&cli.FloatFlag{Name: "rate", Usage: "at most this many messages per second (0: no cap)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "read and count, send nothing"},
			&cli.StringFlag{Name: "checkpoint", Usage: "record progress in FILE and resume after its last confirmed entry"},
			&cli.IntFlag{Name: "max-replays", Usage: "refuse entries already replayed this many times (0: no limit)"},
		),
		Action: runReplay,
	}
}

// replayMsg is one message to send back.
type replayMsg struct {
	entry   *dlq.Entry
	headers []dlq.Header // the originals, then dlq.replay_of and dlq.replay_count
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

// checkpoint is what --checkpoint FILE holds.
type checkpoint struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	Position string `json:"position"`
	Replayed uint64 `json:"replayed"`
}

func loadCheckpoint(path, src string) (checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return checkpoint{Source: src}, nil
	}
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if cp.Source != src {
		return checkpoint{}, fmt.Errorf("checkpoint %s belongs to source %s, not %s", path, cp.Source, src)
	}
	return cp, nil
}

// save writes the checkpoint durably: a temporary file, fsynced, renamed.
func (cp *checkpoint) save(path string) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// replayRun is one replay's state.
type replayRun struct {
	target     *target
	cp         checkpoint
	cpPath     string
	pending    []replayMsg
	pendingPos string // position of the last entry handled, sent or refused
	base       uint64 // replayed by earlier runs, from the checkpoint
	sent       uint64
	refused    uint64
	failed     int
	err        error // what stopped the replay
	bar        *progress
}

func runReplay(ctx context.Context, cmd *cli.Command) error {
	src, err := oneSource(cmd)
	if err != nil {
		return err
	}
	to, rate, maxReplays := cmd.String("to"), cmd.Float("rate"), cmd.Int("max-replays")
	if rate < 0 || maxReplays < 0 {
		return fmt.Errorf("%w: --rate and --max-replays cannot be negative", errUsage)
	}
	run := &replayRun{cpPath: cmd.String("checkpoint"), cp: checkpoint{Source: src, Target: to}}
	if run.cpPath != "" {
		if run.cp, err = loadCheckpoint(run.cpPath, src); err != nil {
			return err
		}
		run.cp.Target, run.base = to, run.cp.Replayed
	}
	dryRun := cmd.Bool("dry-run")
	if run.target, err = parseTarget(to); err != nil {
		return err
	}
	if !dryRun {
		if err := run.target.open(); err != nil {
			return err
		}
		defer func() { _ = run.target.close() }()
	}
	r, err := openReader(cmd, dlq.ReaderOptions{After: run.cp.Position})
	if err != nil {
		return err
	}
	out := cmd.Root().Writer
	run.bar = newProgress(out, cmd.Root().ErrWriter, "replay")
	start, n := time.Now(), 0
	var readErr error
	for rec, err := range r.All(ctx) {
		if err != nil {
			readErr = err
			break
		}
		count := replayCount(&rec.Entry)
		run.pendingPos = rec.Position
		if maxReplays > 0 && count >= maxReplays {
			run.refused++
			continue
		}
		if rate > 0 {
			if wait := time.Until(start.Add(time.Duration(float64(n) / rate * float64(time.Second)))); wait > 0 {
				if err := run.flush(ctx); err != nil {
					break
				}
				if !sleep(ctx, wait) {
					readErr = ctx.Err()
					break
				}
			}
		}
		n++
		if dryRun {
			run.sent++
			continue
		}
		e := rec.Entry
		run.pending = append(run.pending, replayMsg{entry: &e, headers: replayHeaders(&e, count+1)})
		if len(run.pending) == replayBatch {
			if err := run.flush(ctx); err != nil {
				break
			}
		}
	}
	if run.err == nil && !dryRun {
		_ = run.flush(ctx)
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
	case readErr != nil:
		return fmt.Errorf("replay stopped: %d sent: %w", run.sent, readErr)
	}
	return nil
}

// flush sends the pending messages and, once the target confirmed them,
// records the checkpoint. A failure stops the replay: the checkpoint stays
// at the last confirmed entry, so a rerun skips nothing.
func (run *replayRun) flush(ctx context.Context) error {
	if len(run.pending) > 0 {
		sent, err := run.target.send(ctx, run.pending)
		run.sent += uint64(sent)
		run.bar.add(sent)
		if err != nil {
			run.failed, run.err = len(run.pending)-sent, err
			return err
		}
		clear(run.pending)
		run.pending = run.pending[:0]
	}
	if run.cpPath == "" || run.pendingPos == "" || run.pendingPos == run.cp.Position {
		return nil
	}
	run.cp.Position, run.cp.Replayed = run.pendingPos, run.base+run.sent
	if err := run.cp.save(run.cpPath); err != nil {
		run.err = err
		return err
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
