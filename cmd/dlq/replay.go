package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/redact"
	"github.com/urfave/cli/v3"
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
			// The rate: a cap, or auto (issue 23).
			&cli.StringFlag{Name: "rate", Value: "0", Usage: "at most this many messages per second (0: no cap), or auto: rise while the target keeps up, halve when it answers 429, 503 or 5xx, throttles (Kafka) or slows down"},
			&cli.FloatFlag{Name: "max-rate", Usage: "with --rate auto, the highest rate", DefaultText: "10000"},
			&cli.BoolFlag{Name: "dry-run", Usage: "read and count, send nothing"},
			&cli.StringFlag{Name: "checkpoint", Usage: "record in FILE the last entry the target confirmed, and resume after it (FILE belongs to this source, target and filters)"},
			&cli.IntFlag{Name: "max-replays", Usage: "refuse entries already replayed this many times (0: no limit)"},
			// The ledger and the audit record.
			&cli.StringFlag{Name: "ledger", Usage: "append each entry the target confirmed (id, target, time) to FILE (default: CHECKPOINT.ledger with --checkpoint)"},
			&cli.BoolFlag{Name: "only-pending", Usage: "skip the entries the ledger says this --to confirmed already (needs --ledger or --checkpoint)"},
			&cli.StringFlag{Name: "audit", Usage: "append one JSON record of the run (user, host, times, source, target, filters, counts) to FILE (default: next to the ledger, .audit for .ledger)"},
			// The canary.
			&cli.IntFlag{Name: "canary", Usage: "send the first N entries, wait --canary-wait, and stop if more than --abort-above of them came back to the DLQ (then every window of N the same way; 0: off)"},
			&cli.DurationFlag{Name: "canary-wait", Value: 30 * time.Second, Usage: "how long replayed messages have to come back to the DLQ"},
			&cli.StringFlag{Name: "abort-above", Value: "5%", Usage: "the share of a window that may come back: 5% or 0.05"},
			&cli.StringFlag{Name: "watch", Usage: "the DLQ where messages that fail again come back (default: SRC)"},
		),
		Action: runReplay,
	}
}

// runReplay is dlq.Replay with the command's flags, its progress on the
// terminal and a summary line.
func runReplay(ctx context.Context, cmd *cli.Command) error {
	src, err := oneSource(cmd)
	if err != nil {
		return err
	}
	to, maxReplays := cmd.String("to"), int(cmd.Int("max-replays"))
	rate, auto, err := rateFlags(cmd)
	if err != nil {
		return err
	}
	if rate < 0 || maxReplays < 0 {
		return fmt.Errorf("%w: --rate and --max-replays cannot be negative", errUsage)
	}
	if cmd.Bool("only-pending") && cmd.String("ledger") == "" && cmd.String("checkpoint") == "" {
		return fmt.Errorf("%w: --only-pending needs a ledger: --ledger FILE (or --checkpoint FILE, next to which it is kept)", errUsage)
	}
	filter, err := filterOf(cmd, time.Now())
	if err != nil {
		return err
	}
	abortAbove, err := shareOf(cmd.String("abort-above"))
	switch { // each flag named with the value it was given
	case cmd.Int("canary") < 0:
		return fmt.Errorf("%w: --canary %d is negative: give how many entries go first, or 0 for no canary", errUsage, cmd.Int("canary"))
	case cmd.Duration("canary-wait") <= 0:
		return fmt.Errorf("%w: --canary-wait %v must be positive", errUsage, cmd.Duration("canary-wait"))
	case err != nil:
		return fmt.Errorf("%w: --abort-above %q is not a share above 0 and at most 100%%, such as 5%% or 0.05 (to stop when any comes back, give less than one entry of --canary: 0.1%%)", errUsage, cmd.String("abort-above"))
	}
	out := cmd.Root().Writer
	var (
		bar  *progress
		last atomic.Pointer[dlq.ReplayProgress]
	)
	opts := dlq.ReplayOptions{
		Filter: filter, Since: cmd.String("since"), Until: cmd.String("until"),
		Rate: rate, RateAuto: auto, MaxRate: cmd.Float("max-rate"), MaxReplays: maxReplays, DryRun: cmd.Bool("dry-run"), Checkpoint: cmd.String("checkpoint"),
		Canary: int(cmd.Int("canary")), CanaryWait: cmd.Duration("canary-wait"), AbortAbove: abortAbove, Watch: cmd.String("watch"),
		Warn: readWarnings(cmd), ProgressInterval: progressEvery,
		Ledger: cmd.String("ledger"), OnlyPending: cmd.Bool("only-pending"), Audit: cmd.String("audit"), // the ledger
		OnProgress: func(p dlq.ReplayProgress) {
			first := last.Load() == nil
			last.Store(&p)
			if first { // the replay begins
				if p.Resumed {
					fmt.Fprintf(out, "resuming after %s, %d replayed before\n", printable(p.From, len(p.From)), p.Before)
				}
				bar = newProgressOf(cmd, "replay", src, func() uint64 { return last.Load().Read })
				bar.also(func() string { return "sent " + thousands(last.Load().Sent) + rateNote(auto, last.Load(), "") })
			}
			bar.seen(p.Position)
		},
	}
	res, err := dlq.Replay(ctx, src, to, opts)
	var stopped *dlq.ReplayError
	if err != nil && !errors.As(err, &stopped) {
		return replaySetupError(err)
	}
	bar.done()
	verb := "replayed"
	if opts.DryRun {
		verb = "dry run: would replay"
	}
	refused := "" // only --max-replays refuses entries
	if maxReplays > 0 {
		refused = fmt.Sprintf("; refused %d (replayed %d times or more)", res.Refused, maxReplays)
	}
	if opts.OnlyPending { // the ledger
		refused += fmt.Sprintf("; already replayed %d (ledger)", res.AlreadyReplayed)
	}
	fmt.Fprintf(out, "%s %d to %s%s; failed %d; unreadable %d%s\n",
		verb, res.Sent, redact.URL(to), refused, res.Failed, res.Unreadable, rateNote(auto && !opts.DryRun, last.Load(), " at the end"))
	printCameBack(out, res, err)
	if stopped != nil && !errors.Is(err, dlq.ErrTargetFailed) {
		told := *stopped
		told.Err = sourceError(told.Err, src) // a Kafka topic that does not exist, named with its broker
		return &told
	}
	return err
}

// replaySetupError tells in the command's words what kept a replay from
// starting: a checkpoint of another replay names the flags that differ, a
// target URL of another form is a usage error.
func replaySetupError(err error) error {
	var cpErr *dlq.CheckpointError
	switch {
	case errors.As(err, &cpErr) && len(cpErr.Differences) > 0:
		diff := make([]string, len(cpErr.Differences))
		for i, d := range cpErr.Differences {
			diff[i] = fmt.Sprintf("%s %q, not %q", checkpointFlag(d.Field), d.Had, d.Asked)
		}
		return &explained{err: err, msg: fmt.Sprintf("checkpoint %s belongs to another replay: %s; rerun that replay with the same source, --to and filters, or give a new --checkpoint FILE",
			cpErr.Path, strings.Join(diff, "; "))}
	case errors.Is(err, dlq.ErrInvalidTarget):
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}

// checkpointFlag names the flag that sets a checkpoint's field.
func checkpointFlag(field string) string {
	switch field {
	case "source":
		return field
	case "target":
		return "--to"
	}
	return "--" + strings.ReplaceAll(field, "_", "-")
}
