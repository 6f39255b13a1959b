package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"text/tabwriter"

	"github.com/dlqkit/dlq"
	"github.com/urfave/cli/v3"
)

// maxLedgerTargets is how many targets inspect --replayed tells apart when
// counting distinct entries per target; the targets past it share the last
// one's count of distinct entries (their sends are still their own).
const maxLedgerTargets = 64

// ledgerTarget is what a ledger says went back to one target; first and
// last are epoch ms.
type ledgerTarget struct {
	Target  string `json:"target"`
	Entries uint64 `json:"entries"` // distinct ids
	Sends   uint64 `json:"sends"`   // lines: an entry replayed twice to it counts twice
	First   int64  `json:"first"`
	Last    int64  `json:"last"`
}

// replayedResult is inspect --replayed's answer: what went back (from the
// ledger) and the entries of SRC that came back, grouped.
type replayedResult struct {
	Ledger  string         `json:"ledger"`
	Targets []ledgerTarget `json:"targets"`
	// Replayed is how many distinct entries the ledger holds.
	Replayed uint64 `json:"replayed"`
	// CameBack is how many entries of SRC carry a dlq.replay_of of the
	// ledger; CameBackIDs how many distinct ledger ids they name.
	CameBack    uint64 `json:"came_back"`
	CameBackIDs uint64 `json:"came_back_ids"`
	inspectResult
}

// wentBack reads a ledger: the targets (in the order the ledger first
// names them) and, for each id, the targets it went to as bits.
func wentBack(path string) ([]ledgerTarget, map[string]uint64, error) {
	var targets []ledgerTarget
	index := map[string]int{}
	ids := map[string]uint64{}
	for rec, err := range dlq.ReadLedger(path) {
		if err != nil {
			return nil, nil, err
		}
		i, ok := index[rec.Target]
		if !ok {
			i = len(targets)
			index[rec.Target] = i
			targets = append(targets, ledgerTarget{Target: rec.Target, First: rec.Time.UnixMilli(), Last: rec.Time.UnixMilli()})
		}
		t, ms := &targets[i], rec.Time.UnixMilli()
		t.Sends++
		t.First, t.Last = min(t.First, ms), max(t.Last, ms)
		ids[rec.ID] |= 1 << min(i, maxLedgerTargets-1)
	}
	for _, mask := range ids {
		for m := mask; m != 0; m &= m - 1 {
			targets[bits.TrailingZeros64(m)].Entries++
		}
	}
	return targets, ids, nil
}

// replayOf returns the id of the entry e is a replay of, from its
// headers or its metadata; "" when it is none.
func replayOf(e *dlq.Entry) string {
	for i := len(e.Headers) - 1; i >= 0; i-- {
		if e.Headers[i].Key == dlq.HeaderReplayOf {
			return string(e.Headers[i].Value)
		}
	}
	return e.Metadata[dlq.HeaderReplayOf]
}

// runInspectReplayed is inspect --replayed LEDGER: what went back to each
// target, and the entries of SRC that came back (replays of ledger ids
// the consumer handed to the DLQ again), grouped as inspect groups.
// Memory grows with the ledger's distinct ids.
func runInspectReplayed(ctx context.Context, cmd *cli.Command, by groupBy, top int) error {
	path := cmd.String("replayed")
	targets, ids, err := wentBack(path)
	if err != nil {
		return err
	}
	r, err := openReader(cmd, dlq.ReaderOptions{SkipPayload: true})
	if err != nil {
		return err
	}
	bar := newProgress(cmd, "inspect", r)
	counter := newGroupCounter(by)
	res := replayedResult{Ledger: path, Targets: targets, Replayed: uint64(len(ids))}
	back := map[string]struct{}{}
	for rec, err := range records(ctx, r, bar) {
		if err != nil {
			bar.done()
			return err
		}
		of := replayOf(&rec.Entry)
		if _, ok := ids[of]; !ok || of == "" {
			continue
		}
		res.CameBack++
		back[of] = struct{}{}
		counter.add(&rec.Entry)
	}
	bar.done()
	res.CameBackIDs = uint64(len(back))
	stats := r.Stats()
	res.inspectResult = inspectResult{Total: stats.Matched, Unreadable: stats.Unreadable, Groups: counter.groups()}
	res.Groups, res.MoreGroups, res.MoreEntries = topGroups(res.Groups, top, by.byTime())
	if cmd.Bool("json") {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = cmd.Root().Writer.Write(safeJSON(append(b, '\n')))
		return err
	}
	return printReplayed(cmd.Root().Writer, by, &res)
}

func printReplayed(w io.Writer, by groupBy, res *replayedResult) error {
	slices.SortStableFunc(res.Targets, func(a, b ledgerTarget) int { return cmp.Compare(b.Sends, a.Sends) })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "went back (ledger %s):\n", printable(res.Ledger, 200))
	fmt.Fprintf(tw, "TARGET\tENTRIES\tSENDS\tFIRST\tLAST\n")
	for _, t := range res.Targets {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", printable(t.Target, 100), t.Entries, t.Sends, msTime(t.First), msTime(t.Last))
	}
	pct := 0.0
	if res.Replayed > 0 {
		pct = 100 * float64(res.CameBackIDs) / float64(res.Replayed)
	}
	fmt.Fprintf(tw, "\ncame back: %d entries, replays of %d of the %d entries replayed (%.1f%%)\n",
		res.CameBack, res.CameBackIDs, res.Replayed, pct)
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.CameBack == 0 {
		_, err := fmt.Fprintf(w, "\ntotal %d, unreadable %d\n", res.Total, res.Unreadable)
		return err
	}
	return printGroups(w, by, res.inspectResult)
}
