package main

import (
	"fmt"
	"strconv"

	"github.com/dlqkit/dlq"
	"github.com/urfave/cli/v3"
)

// rateFlags reads --rate: a number of messages per second, or auto; and
// --max-rate, which only auto takes.
func rateFlags(cmd *cli.Command) (rate float64, auto bool, err error) {
	switch v := cmd.String("rate"); v {
	case "auto":
		auto = true
	default:
		if rate, err = strconv.ParseFloat(v, 64); err != nil {
			return 0, false, fmt.Errorf("%w: --rate %q is neither a number of messages per second nor auto", errUsage, v)
		}
	}
	if maxRate := cmd.Float("max-rate"); maxRate < 0 || maxRate != 0 && !auto {
		return 0, false, fmt.Errorf("%w: --max-rate is a positive number of messages per second, with --rate auto", errUsage)
	}
	return rate, auto, nil
}

// rateNote is what the progress line and the summary say of the automatic
// rate: the rate in force, then when ("" without --rate auto, or before
// the replay began).
func rateNote(auto bool, p *dlq.ReplayProgress, when string) string {
	if !auto || p == nil {
		return ""
	}
	return fmt.Sprintf("; rate auto: %s/s%s", thousands(uint64(p.Rate+0.5)), when)
}
