package dlq

import (
	"errors"
	"fmt"
	"slices"
)

// deliver makes one write attempt for each of recs: in cascade order, each
// entry until a backend holds it; in fan-out, to every backend that still
// lacks it. It reports whether any entry made progress.
func (d *drain) deliver(recs []*record) (progress bool) {
	d.encode(recs)
	for _, r := range recs {
		r.tries++
		r.oversize = true
	}
	if d.o.cfg.mode() == ModeFanOut {
		progress = d.fanOut(recs)
	} else {
		progress = d.cascade(recs)
	}
	for _, r := range recs {
		r.line = nil
	}
	return progress
}

// encode writes each record's envelope into the arena once per delivery.
func (d *drain) encode(recs []*record) {
	d.arena = d.arena[:0]
	d.offsets = d.offsets[:0]
	for _, r := range recs {
		d.offsets = append(d.offsets, len(d.arena))
		d.arena = AppendEnvelope(d.arena, &r.entry)
	}
	d.offsets = append(d.offsets, len(d.arena))
	for i, r := range recs {
		r.line = d.arena[d.offsets[i]:d.offsets[i+1]:d.offsets[i+1]]
	}
	if cap(d.arena) > maxKeptArena {
		d.arena = nil // do not keep a huge buffer after one huge batch
	}
}

const maxKeptArena = 64 << 20

// cascade hands the entries nobody holds to each backend in turn.
func (d *drain) cascade(recs []*record) (progress bool) {
	remaining := make([]*record, 0, len(recs))
	for _, r := range recs {
		if !r.held {
			remaining = append(remaining, r)
		}
	}
	for i := range d.o.backends {
		if len(remaining) == 0 {
			break
		}
		if !d.available(i) {
			for _, r := range remaining {
				d.passOver(i, r)
			}
			continue
		}
		bt := d.writeTo(i, remaining)
		next := remaining[:0]
		for j, r := range bt.recs {
			if bt.errs[j] == nil {
				d.held(r)
				progress = true
			} else {
				next = append(next, r)
			}
		}
		remaining = next
	}
	return progress
}

// fanOut hands each backend the entries that still lack it.
func (d *drain) fanOut(recs []*record) (progress bool) {
	all := uint64(1)<<len(d.o.backends) - 1
	for _, r := range recs {
		if r.tries == 1 {
			r.need = all
		}
	}
	sub := make([]*record, 0, len(recs))
	for i := range d.o.backends {
		bit := uint64(1) << i
		sub = sub[:0]
		for _, r := range recs {
			if r.need&bit != 0 {
				sub = append(sub, r)
			}
		}
		if len(sub) == 0 {
			continue
		}
		if !d.available(i) {
			for _, r := range sub {
				d.passOver(i, r)
			}
			continue
		}
		bt := d.writeTo(i, sub)
		for j, r := range bt.recs {
			switch err := bt.errs[j]; {
			case err == nil:
				r.need &^= bit
				d.held(r)
				progress = true
			case errors.Is(err, ErrOversize) && r.held:
				r.need &^= bit // it will never fit there
				d.o.backendCounters[i].missed.Add(1)
			}
		}
	}
	return progress
}

// held marks r as held by a backend, counting it written the first time.
func (d *drain) held(r *record) {
	if !r.held {
		r.held = true
		d.o.drained.written.Add(1)
	}
}

// writeTo writes recs to backend i and returns the batch with its per-entry
// results, which it also records on each failed entry.
func (d *drain) writeTo(i int, recs []*record) *batch {
	bt := &d.bt
	bt.recs = recs
	bt.lines = bt.lines[:0]
	for _, r := range recs {
		bt.lines = append(bt.lines, r.line)
	}
	bt.errs = slices.Grow(bt.errs[:0], len(recs))[:len(recs)]
	clear(bt.errs)
	b := &d.o.backends[i]
	start := d.batchStart()
	err := b.write(d.ctx, bt)
	c := &d.o.backendCounters[i]
	c.batches.Add(1)
	failed, unavailable := 0, 0
	for j, r := range recs {
		e := bt.errs[j]
		if e == nil {
			c.entries.Add(1)
			d.dirty[i] = true
			continue
		}
		failed++
		r.lastErr = &BackendError{Kind: b.kind, Entries: 1, Err: e}
		if !errors.Is(e, ErrOversize) {
			r.oversize = false
			unavailable++
		}
	}
	d.noteResult(i, len(recs)-failed, unavailable)
	if failed > 0 {
		if err == nil {
			err = fmt.Errorf("%d of %d entries failed: %w", failed, len(recs), firstError(bt.errs))
		}
		d.backendFailed(i, &BackendError{Kind: b.kind, Entries: failed, Err: err}, failed)
	}
	d.batchDone(i, start, len(recs), failed, err)
	return bt
}

func firstError(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
