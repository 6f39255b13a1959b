package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/urfave/cli/v3"
)

// filterFlags are the flags every reading command takes.
func filterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "reason", Usage: "only entries whose reason matches this glob (repeatable: any of them)"},
		&cli.StringFlag{Name: "service", Usage: "only entries of this service (glob)"},
		&cli.StringFlag{Name: "destination", Usage: "only entries going to this destination (glob)"},
		&cli.StringFlag{Name: "since", Usage: "only entries at or after this time: RFC 3339, or a duration back from now (2h, 7d)"},
		&cli.StringFlag{Name: "until", Usage: "only entries before this time: RFC 3339, or a duration back from now"},
		&cli.StringSliceFlag{Name: "id", Usage: "only the entry with this id (repeatable)"},
		&cli.StringSliceFlag{Name: "fingerprint", Usage: "only entries whose error has this fingerprint, as inspect --group-by fingerprint prints it (repeatable)"},
	}
}

// filterOf reads the filter flags.
func filterOf(cmd *cli.Command, now time.Time) (dlq.Filter, error) {
	f := dlq.Filter{
		Reasons:      cmd.StringSlice("reason"),
		Service:      cmd.String("service"),
		Destination:  cmd.String("destination"),
		IDs:          cmd.StringSlice("id"),
		Fingerprints: cmd.StringSlice("fingerprint"),
	}
	for _, bound := range []struct {
		flag string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := cmd.String(bound.flag); s != "" {
			t, err := dlq.ParseTimeBound(s, now)
			if err != nil {
				return f, fmt.Errorf("%w: --%s: %w", errUsage, bound.flag, err)
			}
			*bound.to = t
		}
	}
	return f, nil
}

// openReader opens the command's SRC with its filter flags.
func openReader(cmd *cli.Command, opts dlq.ReaderOptions) (*dlq.Reader, error) {
	src, err := oneSource(cmd)
	if err != nil {
		return nil, err
	}
	if opts.Filter, err = filterOf(cmd, time.Now()); err != nil {
		return nil, err
	}
	opts.Warn = readWarnings(cmd)
	return dlq.OpenReader(src, opts)
}

// records iterates what r reads, a failure to read told as an operator
// needs it (a Kafka topic that does not exist names the topic and the
// broker), and counts the files done on p's progress line.
func records(ctx context.Context, r *dlq.Reader, p *progress) iter.Seq2[dlq.Record, error] {
	return func(yield func(dlq.Record, error) bool) {
		for rec, err := range r.All(ctx) {
			if err != nil {
				yield(rec, sourceError(err, r.Source()))
				return
			}
			p.seen(rec.Position)
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// explained is a failure told in the operator's words; it still matches
// what it explains.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }

func (e *explained) Unwrap() error { return e.err }

// readWarnings prints what a Reader warns of (a file read in part or not
// at all, by name) on stderr, escaped: a file or folder name can hold
// control characters too.
func readWarnings(cmd *cli.Command) func(error) {
	return func(err error) { fmt.Fprintf(cmd.Root().ErrWriter, "warning: %s\n", printableLines(err.Error())) }
}

// endedByUser reports whether err only says the user stopped a follow.
func endedByUser(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && ctx.Err() != nil
}
