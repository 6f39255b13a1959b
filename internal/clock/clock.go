// Package clock waits on the clock for as long as a context lets it.
package clock

import (
	"context"
	"time"
)

// Sleep waits d and reports true, or false when ctx ends first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
