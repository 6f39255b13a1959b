package dlq

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestWarningsAreRateLimited: of many failures of one kind, the first is
// logged, then one summary per interval with the count left out; another
// kind is logged on its own.
func TestWarningsAreRateLimited(t *testing.T) {
	var out bytes.Buffer
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	w := newWarner(slog.New(slog.NewTextHandler(&out, nil)), clock.Now)
	lines := func() []string { return strings.Split(strings.TrimSpace(out.String()), "\n") }

	for range 1000 {
		w.logf("failed kafka", slog.LevelWarn, "dlq: backend failed", "backend", "kafka")
		clock.Add(time.Millisecond) // 1000 failures in one second
	}
	w.logf("failed file", slog.LevelWarn, "dlq: backend failed", "backend", "file")
	assert.Len(t, lines(), 2, "the first of each kind only:\n%s", out.String())

	clock.Add(warnInterval)
	w.logf("failed kafka", slog.LevelWarn, "dlq: backend failed", "backend", "kafka")
	assert.Len(t, lines(), 3)
	assert.Contains(t, lines()[2], "suppressed=999", "the summary counts what was left out")

	w.logf("failed kafka", slog.LevelWarn, "dlq: backend failed", "backend", "kafka")
	w.summarize()
	assert.Len(t, lines(), 4)
	assert.Contains(t, lines()[3], "suppressed=1", "Close logs what is left")
}
