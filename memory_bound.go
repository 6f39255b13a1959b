package dlq

import (
	"sync"
	"sync/atomic"
)

// Memory is bounded by room: Send takes one unit before it queues an entry,
// and the drain gives it back once the entry has left memory (held by
// every backend it needs, lost, or given up by a fan-out mirror). There
// are QueueCapacity + BatchSize units, so the entries queued, batched,
// waiting for a retry or for a fan-out catch-up never exceed that many,
// whatever the caller does; when they would, Send returns ErrQueueFull.

// takeRoom takes one unit of room, or reports false when there is none.
// A failed take may fail another racing one too; both then see the queue
// as full, which at that moment it nearly is.
func (a *admissionCounters) takeRoom() bool {
	if a.room.Add(-1) >= 0 {
		return true
	}
	a.room.Add(1)
	return false
}

// waiters lets SendContext calls sleep until room is given back. The drain
// gives room back after every batch; it takes the lock only when someone
// waits.
type waiters struct {
	n  atomic.Int64
	mu sync.Mutex
	ch chan struct{} // closed and replaced on wake
}

// wait registers a waiter and returns the channel that closes at the next
// wake. The caller tries for room once more before sleeping on it, and
// calls leave when done waiting.
func (w *waiters) wait() <-chan struct{} {
	w.n.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

// leave unregisters a waiter.
func (w *waiters) leave() { w.n.Add(-1) }

// wake wakes every waiter. Room must be given back before wake is called.
func (w *waiters) wake() {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}
