//go:build dlq_kafka || dlq_redis || dlq_all

package dlq

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sendThroughOutage sends ps at a steady pace from another goroutine, calls
// kill once the first backend holds more than heldFirst entries, waits for
// the sends to finish, flushes, and returns the stats as they stand then.
func sendThroughOutage(t *testing.T, o *Orchestrator, ps []string, heldFirst uint64, kill func()) Stats {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() { // not the test goroutine: t.Errorf, never require
		for i, p := range ps {
			if err := o.SendContext(context.Background(), Entry{Reason: "r", Payload: []byte(p)}); err != nil {
				t.Errorf("SendContext %s: %v", p, err)
				return
			}
			if i%100 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	require.Eventually(t, func() bool { return o.Stats().Backends[0].Entries > heldFirst }, 20*time.Second, time.Millisecond)
	kill()
	wg.Wait()
	flushOK(t, o)
	return o.Stats()
}

// probeUntilUsed sends and flushes one probe entry at a time until the
// first backend holds more than it did when it went down, and returns how
// many probes that took.
func probeUntilUsed(t *testing.T, o *Orchestrator, down Stats, within time.Duration, msg string) int {
	t.Helper()
	// A loop of its own: require.Eventually runs its condition on another
	// goroutine, where require must not be called.
	deadline := time.Now().Add(within)
	for probes := 1; ; probes++ {
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "probe-%d", probes)}))
		flushOK(t, o)
		if o.Stats().Backends[0].Entries > down.Backends[0].Entries {
			return probes
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still unused after %d probes in %s", msg, probes, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
