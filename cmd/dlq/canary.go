package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dlqkit/dlq"
)

// shareOf reads --abort-above: a percentage ("5%") or a share ("0.05"),
// between 0 and 1. 0 is refused: the library would take it for its
// default.
func shareOf(s string) (float64, error) {
	text, scale := strings.TrimSpace(s), 1.0
	if t, ok := strings.CutSuffix(text, "%"); ok {
		text, scale = strings.TrimSpace(t), 100
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, err
	}
	share := v / scale
	if !(share > 0 && share <= 1) {
		return 0, fmt.Errorf("%s is not a share above 0 and at most 100%%", s)
	}
	return share, nil
}

// printCameBack says, after a replay with --canary, how many messages came
// back to the DLQ and, when that stopped the replay, with which reasons
// and fingerprints.
func printCameBack(out io.Writer, res dlq.ReplayResult, err error) {
	var abort *dlq.ReplayAbortError
	if !errors.As(err, &abort) {
		if res.CameBack > 0 {
			fmt.Fprintf(out, "came back %d of %d sent\n", res.CameBack, res.Sent)
		}
		return
	}
	window := "the canary"
	if abort.Window > 0 {
		window = fmt.Sprintf("window %d", abort.Window)
	}
	fmt.Fprintf(out, "aborted: %d of the %d of %s came back to the DLQ, above %s; %d came back of %d sent\n",
		abort.Back, abort.Size, window, strconv.FormatFloat(abort.AbortAbove*100, 'f', -1, 64)+"%", abort.CameBack, abort.Sent)
	for _, c := range abort.Reasons {
		fmt.Fprintf(out, "  reason       %6d  %s\n", c.Count, printable(c.Value, len(c.Value)))
	}
	for _, c := range abort.Fingerprints {
		fmt.Fprintf(out, "  fingerprint  %6d  %s\n", c.Count, printable(c.Value, len(c.Value)))
	}
}
