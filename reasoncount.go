package dlq

import (
	"sync/atomic"
)

// maxReasons bounds how many distinct Entry.Reason values Stats.ByReason
// counts apart; entries with any further reason are counted under
// ReasonOther. The bound keeps a metrics label's cardinality, and the
// drain's memory, fixed whatever the callers put in Reason.
const maxReasons = 100

// ReasonOther is the Stats.ByReason key counting entries whose Reason came
// after the first 100 distinct ones.
const ReasonOther = "other"

// reasonCount is one reason's counter.
type reasonCount struct {
	name string
	n    atomic.Uint64
}

// reasonCounts counts accepted entries by their own Reason. The drain
// goroutine alone calls add; snapshot may be called from any goroutine.
// A new reason is published by swapping in a longer copy of the list, which
// happens at most maxReasons times.
type reasonCounts struct {
	seen  map[string]*reasonCount // the drain's index of all
	last  *reasonCount            // the reason added last: reasons come in runs
	all   atomic.Pointer[[]*reasonCount]
	other atomic.Uint64
}

// add counts one entry with reason.
func (rc *reasonCounts) add(reason string) {
	if c := rc.last; c != nil && c.name == reason {
		c.n.Add(1)
		return
	}
	c, ok := rc.seen[reason]
	if !ok {
		if len(rc.seen) >= maxReasons {
			rc.other.Add(1)
			return
		}
		if rc.seen == nil {
			rc.seen = make(map[string]*reasonCount)
		}
		c = &reasonCount{name: reason}
		rc.seen[reason] = c
		var all []*reasonCount
		if p := rc.all.Load(); p != nil {
			all = *p
		}
		all = append(all[:len(all):len(all)], c)
		rc.all.Store(&all)
	}
	rc.last = c
	c.n.Add(1)
}

// snapshot returns the counts by reason, ReasonOther included once it is
// not zero.
func (rc *reasonCounts) snapshot() map[string]uint64 {
	out := map[string]uint64{}
	if p := rc.all.Load(); p != nil {
		for _, c := range *p {
			out[c.name] = c.n.Load()
		}
	}
	if n := rc.other.Load(); n > 0 {
		out[ReasonOther] += n
	}
	return out
}
