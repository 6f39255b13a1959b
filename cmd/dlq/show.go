package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dlqkit/dlq"
	"github.com/urfave/cli/v3"
)

func showCommand() *cli.Command {
	return &cli.Command{
		Name:        "show",
		Usage:       "print one entry whole; its payload as text when printable, else as a hex dump",
		Description: "ID is the entry's id (dlq tail and dlq inspect --json show ids).\n\n" + sourceHelp,
		ArgsUsage:   "SRC ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the entry's envelope"},
			&cli.BoolFlag{Name: "raw", Usage: "print only the payload's bytes, exactly"},
		},
		Action: runShow,
	}
}

func runShow(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() != 2 {
		return fmt.Errorf("%w: dlq show takes SRC and ID", errUsage)
	}
	src, id := cmd.Args().Get(0), cmd.Args().Get(1)
	r, err := dlq.OpenReader(src, dlq.ReaderOptions{Filter: dlq.Filter{IDs: []string{id}}, Warn: readWarnings(cmd)})
	if err != nil {
		return err
	}
	bar := newProgress(cmd, "show", r)
	defer bar.done()
	for rec, err := range records(ctx, r, bar) {
		bar.done()
		if err != nil {
			return err
		}
		w := cmd.Root().Writer
		switch {
		case cmd.Bool("raw"):
			_, err = w.Write(rec.Entry.Payload)
		case cmd.Bool("json"):
			_, err = w.Write(safeJSON(append(dlq.AppendEnvelope(nil, &rec.Entry), '\n')))
		default:
			err = printEntry(w, &rec)
		}
		return err
	}
	return fmt.Errorf("no entry with id %q in %s (%d entries read)", id, src, r.Stats().Read)
}

// printEntry writes every field of an entry, one per line, each made
// printable.
func printEntry(w io.Writer, rec *dlq.Record) error {
	e := &rec.Entry
	var b strings.Builder
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%-12s %s\n", name+":", value)
		}
	}
	field("id", printable(e.ID, 200))
	field("time", e.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"))
	field("service", printable(e.Service, 200))
	field("reason", printable(e.Reason, 200))
	field("error", printable(e.Error, 10000))
	field("attempts", fmt.Sprint(e.Attempts))
	field("destination", printable(e.Destination, 200))
	field("source", sourceText(e.Source))
	field("position", printable(rec.Position, 1000))
	keys := make([]string, 0, len(e.Metadata))
	for k := range e.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field("metadata", printable(k, 200)+"="+printable(e.Metadata[k], 1000))
	}
	if len(e.Key) > 0 {
		field("key", bytesText(e.Key))
	}
	for _, h := range e.Headers {
		field("header", printable(h.Key, 200)+"="+bytesText(h.Value))
	}
	text, isHex := payloadText(e.Payload)
	kind := "text"
	if isHex {
		kind = "hex"
	}
	fmt.Fprintf(&b, "payload:     %d bytes, %s\n%s\n", len(e.Payload), kind, text)
	_, err := io.WriteString(w, b.String())
	return err
}

// bytesText shows a short byte string: quoted text, or hex.
func bytesText(b []byte) string {
	if isPrintableText(b, false) {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("0x%x", b)
}

func sourceText(s dlq.Source) string {
	if s.IsZero() {
		return ""
	}
	out := printable(s.Topic, 300)
	if s.HasPartition {
		out += fmt.Sprintf(" partition %d", s.Partition)
	}
	if s.HasOffset {
		out += fmt.Sprintf(" offset %d", s.Offset)
	}
	return strings.TrimSpace(out)
}
