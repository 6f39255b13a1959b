package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dlqkit/dlq"
	"github.com/urfave/cli/v3"
)

func tailCommand() *cli.Command {
	return &cli.Command{
		Name:        "tail",
		Usage:       "print the last entries, one line each, and with -f the new ones as they come",
		Description: sourceHelp,
		ArgsUsage:   "SRC",
		Flags: append(filterFlags(),
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new entries until interrupted"},
			&cli.IntFlag{Name: "lines", Aliases: []string{"n"}, Value: 10, Usage: "how many of the entries already there to print; 0 for all"},
			&cli.BoolFlag{Name: "payload", Usage: "add the payload (quoted text, or base64 when binary)"},
			&cli.BoolFlag{Name: "json", Usage: "print each entry's envelope, one JSON object per line (NDJSON)"},
		),
		Action: runTail,
	}
}

func runTail(ctx context.Context, cmd *cli.Command) error {
	n := cmd.Int("lines")
	if n < 0 {
		return fmt.Errorf("%w: --lines %d is negative", errUsage, n)
	}
	w := cmd.Root().Writer
	printOne := func(e *dlq.Entry) error { return printEntryLine(w, e, cmd.Bool("payload"), cmd.Bool("json")) }
	// The last n entries already there wait in a ring; memory holds n.
	ring := make([]dlq.Entry, 0, min(n, 1<<16))
	next, caughtUp := 0, false
	var printErr error
	var bar *progress
	flush := func() {
		bar.done() // caught up: what follows prints as it comes
		for i := range len(ring) {
			if err := printOne(&ring[(next+i)%len(ring)]); err != nil && printErr == nil {
				printErr = err
			}
		}
		ring, caughtUp = nil, true
	}
	// The Reader yields only the last n (reading the newest files first);
	// the ring keeps them until the backlog is read.
	r, err := openReader(cmd, dlq.ReaderOptions{Follow: cmd.Bool("follow"), CaughtUp: flush, Last: int(n),
		SkipPayload: !cmd.Bool("payload") && !cmd.Bool("json")})
	if err != nil {
		return err
	}
	bar = newProgress(cmd, "tail", r)
	defer bar.done()
	for rec, err := range records(ctx, r, bar) {
		if err != nil {
			if cmd.Bool("follow") && endedByUser(ctx, err) {
				return printErr
			}
			return err
		}
		switch {
		case caughtUp || n == 0:
			bar.done()
			if err := printOne(&rec.Entry); err != nil {
				return err
			}
		case len(ring) < n:
			ring = append(ring, rec.Entry)
		default:
			ring[next] = rec.Entry
			next = (next + 1) % n
		}
	}
	if !caughtUp {
		flush()
	}
	return printErr
}

// printEntryLine writes one entry: its envelope with asJSON, else a line
// of time, reason, service, destination, id and error.
func printEntryLine(w io.Writer, e *dlq.Entry, payload, asJSON bool) error {
	if asJSON {
		_, err := w.Write(safeJSON(append(dlq.AppendEnvelope(nil, e), '\n')))
		return err
	}
	var b strings.Builder
	b.WriteString(e.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"))
	for _, field := range []string{e.Reason, e.Service, e.Destination, e.ID} {
		b.WriteString("  ")
		b.WriteString(orDash(printable(field, 80)))
	}
	if e.Error != "" {
		b.WriteString("  ")
		b.WriteString(printable(e.Error, 200))
	}
	if payload {
		b.WriteString("  payload=")
		if isPrintableText(e.Payload, false) {
			b.WriteString(strconv.Quote(string(e.Payload)))
		} else {
			b.WriteString("base64:")
			b.WriteString(base64.StdEncoding.EncodeToString(e.Payload))
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
