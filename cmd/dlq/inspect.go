package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/urfave/cli/v3"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "count the entries, grouped by reason, destination, service, source, hour or error fingerprint",
		ArgsUsage: "SRC",
		Flags: append(filterFlags(),
			&cli.StringFlag{Name: "group-by", Value: "reason", Usage: "reason, destination, service, source, hour or fingerprint"},
			&cli.BoolFlag{Name: "json", Usage: `print {"total","unreadable","groups":[{"key","count","first","last"}]}`},
		),
		Action: runInspect,
	}
}

// group is one row of inspect's answer; first and last are epoch ms.
type group struct {
	Key   string `json:"key"`
	Count uint64 `json:"count"`
	First int64  `json:"first"`
	Last  int64  `json:"last"`
}

type inspectResult struct {
	Total      uint64  `json:"total"`
	Unreadable uint64  `json:"unreadable"`
	Groups     []group `json:"groups"`
}

var groupKeys = map[string]func(e *dlq.Entry) string{
	"reason":      func(e *dlq.Entry) string { return e.Reason },
	"destination": func(e *dlq.Entry) string { return e.Destination },
	"service":     func(e *dlq.Entry) string { return e.Service },
	"source":      sourceKey,
	"hour":        func(e *dlq.Entry) string { return e.Timestamp.UTC().Truncate(time.Hour).Format("2006-01-02T15:04Z") },
	"fingerprint": func(e *dlq.Entry) string { return fingerprint(e.Error) },
}

func sourceKey(e *dlq.Entry) string {
	s := e.Source.Topic
	if e.Source.HasPartition {
		s += "/" + strconv.Itoa(int(e.Source.Partition))
	}
	return s
}

func runInspect(ctx context.Context, cmd *cli.Command) error {
	keyOf, ok := groupKeys[cmd.String("group-by")]
	if !ok {
		return fmt.Errorf("%w: --group-by %q is not reason, destination, service, source, hour or fingerprint", errUsage, cmd.String("group-by"))
	}
	r, err := openReader(cmd, dlq.ReaderOptions{SkipPayload: true}) // groups never show a payload
	if err != nil {
		return err
	}
	// Memory grows with the number of distinct keys, not of entries.
	groups := map[string]*group{}
	for rec, err := range r.All(ctx) {
		if err != nil {
			return err
		}
		key, ms := keyOf(&rec.Entry), rec.Entry.Timestamp.UnixMilli()
		g := groups[key]
		if g == nil {
			g = &group{Key: key, First: ms, Last: ms}
			groups[key] = g
		}
		g.Count++
		g.First, g.Last = min(g.First, ms), max(g.Last, ms)
	}
	stats := r.Stats()
	res := inspectResult{Total: stats.Matched, Unreadable: stats.Unreadable, Groups: make([]group, 0, len(groups))}
	for _, g := range groups {
		res.Groups = append(res.Groups, *g)
	}
	slices.SortFunc(res.Groups, func(a, b group) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if cmd.Bool("json") {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = cmd.Root().Writer.Write(safeJSON(append(b, '\n')))
		return err
	}
	return printGroups(cmd.Root().Writer, cmd.String("group-by"), res)
}

func printGroups(w io.Writer, by string, res inspectResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tCOUNT\tFIRST\tLAST\n", strings.ToUpper(by))
	for _, g := range res.Groups {
		key := g.Key
		if key == "" {
			key = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", printable(key, 100), g.Count, msTime(g.First), msTime(g.Last))
	}
	fmt.Fprintf(tw, "\ntotal %d, unreadable %d\n", res.Total, res.Unreadable)
	return tw.Flush()
}

func msTime(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }
