package dlq

import (
	"context"
	"log/slog"
	"time"
)

// warnInterval is how often a repeated warning is logged again, with the
// count of those left out since.
const warnInterval = 10 * time.Second

// warner rate-limits the drain's repeated warnings, so that an outage does
// not flood the log: of each kind of warning the first is logged at once,
// and after that at most one per warnInterval, which says how many were
// left out since the last one logged. Stats, OnError and OnLoss still see
// every one. Only the drain goroutine uses it.
type warner struct {
	log   *slog.Logger
	clock func() time.Time
	kinds map[string]*warning
}

// warning is the state of one kind of warning.
type warning struct {
	last       time.Time // when one was last logged
	suppressed int       // left out since
}

func newWarner(log *slog.Logger, clock func() time.Time) *warner {
	return &warner{log: log, clock: clock, kinds: map[string]*warning{}}
}

// logf logs msg with args under kind, unless one of the same kind was
// logged less than warnInterval ago; then it only counts it.
func (w *warner) logf(kind string, level slog.Level, msg string, args ...any) {
	now := w.clock()
	k := w.kinds[kind]
	if k == nil {
		k = &warning{}
		w.kinds[kind] = k
	} else if now.Sub(k.last) < warnInterval {
		k.suppressed++
		return
	}
	if k.suppressed > 0 {
		args = append(args, "suppressed", k.suppressed, "since", k.last)
	}
	k.last, k.suppressed = now, 0
	w.log.Log(context.Background(), level, msg, args...)
}

// summarize logs how many of each kind were left out since the last one
// logged, at Close.
func (w *warner) summarize() {
	for kind, k := range w.kinds {
		if k.suppressed > 0 {
			w.log.Warn("dlq: warnings left out", "kind", kind, "suppressed", k.suppressed, "since", k.last)
			k.suppressed = 0
		}
	}
}
