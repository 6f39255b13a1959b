package dlq

// The encode lane overlaps encoding with I/O. While the drain writes a batch
// (write(2) and fsync, a produce request, a pipeline, a POST), the entries
// already queued behind it are taken into the next pending batch and their
// envelopes encoded on a goroutine of their own; when the write returns, the
// next batch is ready to go. Only bytes move here: which entries a batch
// holds, and the fate of each, stay with the drain.
//
// Two arenas take turns: one holds the lines of the batch being written, the
// other receives the lines encoded ahead. A delivery of entries none of
// which was encoded ahead (a retry round) uses the arena that holds no
// pending line.
//
// After encoding, the lane may also let the backend that will write the
// batch first do its own work ahead (backend.prepareAhead): the HTTP
// backend builds and gzips the bodies there, so that body N+1 is ready
// while POST N is in flight.

// encodeLane is the drain's pair of arenas and its one encoding ahead.
type encodeLane struct {
	arenas [2][]byte
	ahead  int // the arena the pending batch's lines encoded ahead are in

	// spare is the batch buffer the next batch fills while one is written.
	spare []record
	recs  []*record // the batch being encoded ahead

	running bool
	into    int           // the arena being encoded into
	done    chan struct{} // closed when the encoding ahead has finished
	result  []byte        // the arena it filled, read after done

	encoded uint64 // entries given their envelope so far, ahead or not
}

// encode gives each of recs that has no line yet its envelope, and returns
// the arena the batch's lines are in. The lines stay valid until that arena
// is encoded into afresh.
func (l *encodeLane) encode(recs []*record) int {
	missing, early := 0, false
	for _, r := range recs {
		if r.line == nil {
			missing++
		} else {
			early = true
		}
	}
	i := 1 - l.ahead
	if early {
		i = l.ahead // append behind the lines encoded ahead
	}
	if missing == 0 {
		return i
	}
	if !early {
		l.arenas[i] = l.arenas[i][:0]
	}
	l.encoded += uint64(missing)
	l.arenas[i] = encodeInto(l.arenas[i], recs)
	return i
}

// start encodes the records of recs on a goroutine of its own into the
// arena other than busy, which holds the lines of the batch about to be
// written, then lets prepare (when not nil) do its part of writing them.
// Nothing else may touch recs, nor prepare's work ahead, until join.
func (l *encodeLane) start(recs []record, busy int, prepare *backend) {
	l.recs = l.recs[:0]
	for i := range recs {
		l.recs = append(l.recs, &recs[i])
	}
	l.encoded += uint64(len(recs))
	l.into = 1 - busy
	l.done = make(chan struct{})
	l.running = true
	arena := l.arenas[l.into][:0]
	l.arenas[l.into] = nil // the goroutine's until join
	go func() {
		defer close(l.done)
		l.result = encodeInto(arena, l.recs)
		if prepare != nil {
			prepare.prepareAhead(l.into, l.recs)
		}
	}()
}

// join waits for the encoding ahead, if one runs; its lines are then the
// pending batch's.
func (l *encodeLane) join() {
	if !l.running {
		return
	}
	<-l.done
	l.running = false
	l.arenas[l.into], l.result = l.result, nil
	l.ahead = l.into
	clear(l.recs)
}

// encodeInto appends the envelope of each of recs without a line to arena,
// points the record's line at it, and returns the arena, or nil when it has
// grown too big to keep (the lines keep what they point into alive).
func encodeInto(arena []byte, recs []*record) []byte {
	for _, r := range recs {
		if r.line != nil {
			continue
		}
		from := len(arena)
		arena = AppendEnvelope(arena, &r.entry)
		r.line = arena[from:len(arena):len(arena)]
	}
	if cap(arena) > maxReusedBuffer {
		return nil // do not keep a huge buffer after one huge batch
	}
	return arena
}

// maxReusedBuffer is the largest buffer a batch leaves for the next one to
// reuse (the encode arena, an HTTP body, a Kafka slab): a bigger one, grown
// by one huge batch, is dropped rather than kept alive.
const maxReusedBuffer = 64 << 20
