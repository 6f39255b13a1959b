//go:build dlq_http || dlq_all

package dlq

import (
	"bytes"
	"context"

	"github.com/klauspost/compress/gzip"
)

// httpAhead is one batch's bodies built, gzipped and keyed on the encode
// lane's goroutine while the batch before it is posted (backend.prepareAhead).
type httpAhead struct {
	recs []*record // the entries it was built for, in order
	// seqs holds each of recs' seq when it was built: the drain reuses a
	// record's memory for a later entry, an entry's seq is never reused.
	seqs   []uint64
	bodies []aheadBody
	raw    bytes.Buffer // the NDJSON of the bodies, one after another
	zbuf   bytes.Buffer // their gzip, one after another
	zw     *gzip.Writer
	ids    []byte // reused: the ids a body's key is the digest of
	idx    []int  // reused: the entries of the body being posted
}

// aheadBody is one body built ahead: the batch's entries [from, to).
type aheadBody struct {
	from, to int
	size     int // the payload's length, before it is cut from the buffers
	payload  []byte
	encoding string
	key      string
}

// prepareAhead builds the bodies write would build for recs, all new
// entries, into slot. It builds nothing when some entry would not go into
// a new body the usual way (a line above max_body_bytes, or an entry that
// keeps the key of an earlier body): write then does it all itself.
func (h *httpBackend) prepareAhead(slot int, recs []*record) {
	a := &h.ahead[slot]
	a.recs, a.seqs, a.bodies = a.recs[:0], a.seqs[:0], a.bodies[:0]
	a.raw.Reset()
	a.zbuf.Reset()
	size, from := 0, 0
	for i, r := range recs {
		n := len(r.line) + 1
		if n > h.maxBody || r.resendGroup != "" {
			a.recs = a.recs[:0]
			return
		}
		if size+n > h.maxBody {
			a.bodies = append(a.bodies, aheadBody{from: from, to: i})
			from, size = i, 0
		}
		size += n
	}
	if len(recs) > 0 {
		a.bodies = append(a.bodies, aheadBody{from: from, to: len(recs)})
	}
	for j := range a.bodies {
		if err := h.buildAhead(a, &a.bodies[j], recs); err != nil {
			a.bodies = a.bodies[:0]
			return // write builds it again and reports the error
		}
	}
	// The payloads are cut once every body is in, when the buffers no
	// longer move.
	raw, zipped := a.raw.Bytes(), a.zbuf.Bytes()
	rawAt, zipAt := 0, 0
	for j := range a.bodies {
		bd := &a.bodies[j]
		if h.gzip {
			bd.payload = zipped[zipAt : zipAt+bd.size : zipAt+bd.size]
			zipAt += bd.size
		} else {
			bd.payload = raw[rawAt : rawAt+bd.size : rawAt+bd.size]
			rawAt += bd.size
		}
	}
	for _, r := range recs {
		a.seqs = append(a.seqs, r.seq)
	}
	a.recs = append(a.recs, recs...)
}

// buildAhead appends body bd's NDJSON (and its gzip) to a's buffers, notes
// the payload's size, and keys it.
func (h *httpBackend) buildAhead(a *httpAhead, bd *aheadBody, recs []*record) error {
	start := a.raw.Len()
	a.ids = a.ids[:0]
	for _, r := range recs[bd.from:bd.to] {
		a.raw.Write(r.line)
		a.raw.WriteByte('\n')
		a.ids = append(a.ids, r.entry.ID...)
		a.ids = append(a.ids, 0)
	}
	bd.key = keyOfIDs(a.ids)
	n := a.raw.Len() - start
	if h.gzip {
		if a.zw == nil {
			a.zw, _ = gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level never fails
		}
		zipStart := a.zbuf.Len()
		if err := gzipInto(a.zw, &a.zbuf, a.raw.Bytes()[start:]); err != nil {
			return err
		}
		bd.encoding = "gzip"
		n = a.zbuf.Len() - zipStart
	}
	bd.size = n
	return nil
}

// aheadFor returns the bodies built ahead for exactly bt's entries, in
// their order, or nil. It reads only the slot the drain names for this
// write: the other may be being built.
func (h *httpBackend) aheadFor(bt *batch) *httpAhead {
	if bt.ahead == 0 {
		return nil
	}
	a := &h.ahead[bt.ahead-1]
	if len(a.bodies) == 0 || len(a.recs) != len(bt.recs) {
		return nil
	}
	for i, r := range bt.recs {
		if a.recs[i] != r || a.seqs[i] != r.seq || r.resendGroup != "" {
			return nil
		}
	}
	return a
}

// writeAhead posts the bodies built ahead for bt, each under its key, and
// lets the slot go.
func (h *httpBackend) writeAhead(ctx context.Context, bt *batch, a *httpAhead) error {
	defer func() { clear(a.recs); a.recs, a.bodies = a.recs[:0], a.bodies[:0] }()
	var firstErr error
	body := a.idx[:0]
	defer func() { a.idx = body[:0] }()
	for j := range a.bodies {
		bd := &a.bodies[j]
		body = body[:0]
		for i := bd.from; i < bd.to; i++ {
			body = append(body, i)
		}
		h.aheadPosts++
		if err := h.post(ctx, bt, body, "", bd); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}
