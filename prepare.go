package dlq

// Preparing ahead: a backend whose write has work that needs no I/O (the
// HTTP backend's bodies and their gzip) does it on the encode lane's
// goroutine for the batch taken ahead, while the batch before it is being
// written. The work is only a head start: write uses it when it is handed
// exactly the entries it was prepared for, in the same order, and
// otherwise does the work itself. Which entries a write carries, and the
// fate of each, stay with the drain.

// preparer returns the backend that will write the batch taken ahead first
// and prepares ahead, or nil: in a cascade the first backend not in its
// cool-down, in a fan-out the first backend that prepares and is not in its
// cool-down (every new entry goes to each backend).
func (d *drain) preparer() *Backend {
	for i := range d.o.backends {
		if !d.available(i) {
			continue
		}
		b := &d.o.backends[i]
		if b.prepares() {
			return b
		}
		if d.o.cfg.mode() != ModeFanOut {
			return nil // the first backend tried does not prepare
		}
	}
	return nil
}

// prepares reports whether b does work ahead of its writes.
func (b *Backend) prepares() bool { return b.kind == KindHTTP }

// prepareAhead does b's work ahead for recs, whose lines are encoded, into
// its slot: 0 or 1, the encode lane's arena the lines are in, so that the
// slot of the batch being written is never the one being prepared. It marks
// each record prepared by run, the lane's count of encodings ahead, which
// the write checks: records are reused, a mark is not. It runs on the
// encode lane's goroutine.
func (b *Backend) prepareAhead(slot int, run uint64, recs []*record) {
	if b.kind == KindHTTP {
		b.http.prepareAhead(slot, run, recs)
	}
}
