package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/urfave/cli/v3"
)

// defaultTop is how many groups inspect prints without --top.
const defaultTop = 20

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:  "inspect",
		Usage: "count the entries, grouped by reason, destination, service, source, hour, day or error fingerprint",
		Description: "Groups are printed largest first, or in time order by hour or day. --group-by takes one key or\n" +
			"several joined by commas (reason,fingerprint). A fingerprint is the error text with what varies from\n" +
			"one occurrence of a bug to the next masked (ids, numbers, addresses, quoted values: dlq.Fingerprint,\n" +
			"version " + strconv.Itoa(dlq.FingerprintVersion) + "); a fingerprint seen once or twice that an id-like word alone\n" +
			"tells from a larger group's is counted in that group.\n\n" + sourceHelp,
		ArgsUsage: "SRC",
		Flags: append(filterFlags(),
			&cli.StringFlag{Name: "group-by", Value: "reason", Usage: "reason, destination, service, source, hour, day or fingerprint, or several joined by commas"},
			&cli.IntFlag{Name: "top", Value: defaultTop, Usage: "print the N largest groups (by hour or day: the N newest) and a line for the others; 0 for all. With --json only when given"},
			&cli.BoolFlag{Name: "json", Usage: `print {"total","unreadable","groups":[{"key","count","first","last"}]}`},
			&cli.StringFlag{Name: "replayed", Usage: "LEDGER of dlq replay: show what went back to each target, and group only the entries that came back (whose dlq.replay_of is in LEDGER)"},
		),
		Action: runInspect,
	}
}

// group is one row of inspect's answer; first and last are epoch ms.
type group struct {
	Key   string   `json:"key"`
	Keys  []string `json:"keys,omitempty"` // the parts of a composite key
	Count uint64   `json:"count"`
	First int64    `json:"first"`
	Last  int64    `json:"last"`
}

type inspectResult struct {
	Total      uint64  `json:"total"`
	Unreadable uint64  `json:"unreadable"`
	Groups     []group `json:"groups"`
	// MoreGroups and MoreEntries count the groups --top left out.
	MoreGroups  int    `json:"more_groups,omitempty"`
	MoreEntries uint64 `json:"more_entries,omitempty"`
}

var groupKeys = map[string]func(e *dlq.Entry) string{
	"reason":      func(e *dlq.Entry) string { return e.Reason },
	"destination": func(e *dlq.Entry) string { return e.Destination },
	"service":     func(e *dlq.Entry) string { return e.Service },
	"source":      sourceKey,
	"hour":        func(e *dlq.Entry) string { return e.Timestamp.UTC().Truncate(time.Hour).Format("2006-01-02T15:04Z") },
	"day":         func(e *dlq.Entry) string { return e.Timestamp.UTC().Format("2006-01-02") },
	"fingerprint": func(e *dlq.Entry) string { return dlq.Fingerprint(e.Error) },
}

func sourceKey(e *dlq.Entry) string {
	s := e.Source.Topic
	if e.Source.HasPartition {
		s += "/" + strconv.Itoa(int(e.Source.Partition))
	}
	return s
}

func runInspect(ctx context.Context, cmd *cli.Command) error {
	by, err := parseGroupBy(cmd.String("group-by"))
	if err != nil {
		return err
	}
	top := int(cmd.Int("top"))
	if top < 0 {
		return fmt.Errorf("%w: --top %d is negative", errUsage, top)
	}
	if cmd.Bool("json") && !cmd.IsSet("top") {
		top = 0 // a script gets every group unless it asks
	}
	if cmd.String("replayed") != "" {
		return runInspectReplayed(ctx, cmd, by, top)
	}
	r, err := openReader(cmd, dlq.ReaderOptions{SkipPayload: true}) // groups never show a payload
	if err != nil {
		return err
	}
	bar := newProgress(cmd, "inspect", r)
	// Memory grows with the number of distinct keys, not of entries.
	counter := newGroupCounter(by)
	for rec, err := range records(ctx, r, bar) {
		if err != nil {
			bar.done()
			return err
		}
		counter.add(&rec.Entry)
	}
	bar.done()
	stats := r.Stats()
	res := inspectResult{Total: stats.Matched, Unreadable: stats.Unreadable, Groups: counter.groups()}
	res.Groups, res.MoreGroups, res.MoreEntries = topGroups(res.Groups, top, by.byTime())
	if cmd.Bool("json") {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = cmd.Root().Writer.Write(safeJSON(append(b, '\n')))
		return err
	}
	return printGroups(cmd.Root().Writer, by, res)
}

func printGroups(w io.Writer, by groupBy, res inspectResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, name := range by {
		fmt.Fprintf(tw, "%s\t", strings.ToUpper(name))
	}
	fmt.Fprintf(tw, "COUNT\tFIRST\tLAST\n")
	for _, g := range res.Groups {
		parts := g.Keys
		if parts == nil {
			parts = []string{g.Key}
		}
		for _, key := range parts {
			if key == "" {
				key = "-"
			}
			fmt.Fprintf(tw, "%s\t", printable(key, 100))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", g.Count, msTime(g.First), msTime(g.Last))
	}
	if res.MoreGroups > 0 {
		which := "more"
		if by.byTime() {
			which = "earlier" // the newest are shown
		}
		fmt.Fprintf(tw, "… and %d %s groups (%d entries)\n", res.MoreGroups, which, res.MoreEntries)
	}
	fmt.Fprintf(tw, "\ntotal %d, unreadable %d\n", res.Total, res.Unreadable)
	return tw.Flush()
}

func msTime(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }
