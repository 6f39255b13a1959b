// Package dlqgen writes a realistic dead-letter queue through the dlq
// library, reproducibly from a seed, with a manifest of its ground truth.
package dlqgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/dlqkit/dlq"
)

// Version names the generator's output: a change to what a seed makes
// changes it, so that caches keyed by it are not reused.
const Version = "dlqgen/1"

// Options says what to generate. The zero value of a field means its
// default.
type Options struct {
	// Seed picks the data: the same seed and options write the same bytes.
	Seed uint64
	// N is how many entries. Defaults to 1,000,000.
	N int
	// Start is the time of the first hour. Defaults to 2026-03-02T00:00Z.
	Start time.Time
	// Hours is the span of the entries' timestamps, in whole hours.
	// Defaults to 72.
	Hours int
	// Files is how many files the folder should end with, the live one
	// included: it sets MaxSizeMB when that is 0. Defaults to 40.
	Files int
	// Plain is how many of the newest rotated files stay uncompressed (a
	// writer that ran with compress off at the end); the older ones are
	// gzipped. Defaults to 4; negative means none.
	Plain int
	// MaxSizeMB is the file backend's max_size_mb; 0 works it out from
	// Files and the entries' mean size.
	MaxSizeMB int
	// Service names the service, and the folder under the output
	// directory. Defaults to orders-consumer.
	Service string
}

func (o Options) withDefaults() Options {
	if o.N == 0 {
		o.N = 1_000_000
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	}
	if o.Hours == 0 {
		o.Hours = 72
	}
	if o.Files == 0 {
		o.Files = 40
	}
	if o.Plain == 0 {
		o.Plain = 4
	}
	if o.Plain < 0 {
		o.Plain = 0
	}
	if o.Service == "" {
		o.Service = "orders-consumer"
	}
	return o
}

// Shares of the entries that carry each optional part.
const (
	binaryShare   = 0.12 // a binary (Avro) payload instead of JSON
	keyShare      = 0.85
	headersShare  = 0.80
	metadataShare = 0.75
	partitions    = 12
	incidentShare = 0.7 // of an incident hour's entries, those of its bug
	incidentBoost = 5   // an incident hour's entries, times a usual hour's
)

// plan is the timeline: each entry's time and bug, in writing order.
type plan struct {
	ts   []int64 // epoch ms, non-decreasing
	bug  []uint8
	hour []int // entries per hour
}

// makePlan spreads n entries over the hours: more by day than by night,
// with a noise of 15%, and one incident a day (five times the entries in
// its hour, most of them one bug's).
func makePlan(r *rand.Rand, o Options) plan {
	weights := make([]float64, o.Hours)
	for h := range weights {
		day := 1 + 0.5*math.Sin(2*math.Pi*float64((h+o.Start.Hour())%24-8)/24)
		weights[h] = day * (0.85 + 0.3*r.Float64())
	}
	incidents := map[int]int{} // hour -> bug
	for range max(1, o.Hours/24) {
		h := r.IntN(o.Hours)
		incidents[h] = r.IntN(len(bugs))
		weights[h] *= incidentBoost
	}
	p := plan{ts: make([]int64, 0, o.N), bug: make([]uint8, 0, o.N), hour: apportion(o.N, weights)}
	var cum []float64 // the bugs' cumulative weights
	total := 0.0
	for _, b := range bugs {
		total += b.weight
		cum = append(cum, total)
	}
	offsets := make([]int64, 0, o.N)
	for h, k := range p.hour {
		base := o.Start.UnixMilli() + int64(h)*time.Hour.Milliseconds()
		offsets = offsets[:0]
		for range k {
			offsets = append(offsets, r.Int64N(time.Hour.Milliseconds()))
		}
		slices.Sort(offsets)
		incident, isIncident := incidents[h]
		for _, off := range offsets {
			p.ts = append(p.ts, base+off)
			if isIncident && r.Float64() < incidentShare {
				p.bug = append(p.bug, uint8(incident))
				continue
			}
			i, _ := slices.BinarySearch(cum, r.Float64()*total)
			p.bug = append(p.bug, uint8(min(i, len(bugs)-1)))
		}
	}
	return p
}

// apportion splits n by weights, the largest remainders rounding up.
func apportion(n int, weights []float64) []int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	counts := make([]int, len(weights))
	rest := make([]int, len(weights))
	given := 0
	for i, w := range weights {
		counts[i] = int(float64(n) * w / total)
		given += counts[i]
		rest[i] = i
	}
	frac := func(i int) float64 { return float64(n)*weights[i]/total - float64(counts[i]) }
	slices.SortStableFunc(rest, func(a, b int) int {
		switch fa, fb := frac(a), frac(b); {
		case fa > fb:
			return -1
		case fa < fb:
			return 1
		}
		return 0
	})
	for _, i := range rest[:n-given] {
		counts[i]++
	}
	return counts
}

// generator makes the entries of a plan, one at a time, in order.
type generator struct {
	o       Options
	p       plan
	r       *rand.Rand // the entries' contents
	ids     *rand.Rand // the entries' ids, a stream of its own
	i       int
	offsets map[string]int64 // the next offset of each topic/partition
	pods    []string
	buf     []byte
}

// newGenerator returns the generator of o's entries; o has its defaults.
func newGenerator(o Options) *generator {
	g := &generator{
		o:       o,
		p:       makePlan(rand.New(rand.NewPCG(o.Seed, 1)), o),
		r:       rand.New(rand.NewPCG(o.Seed, 2)),
		ids:     rand.New(rand.NewPCG(o.Seed, 3)),
		offsets: map[string]int64{},
	}
	for range 6 {
		pod := append([]byte(o.Service+"-7d9f8b6c4-"), appendBase62(nil, g.r, 5)...)
		g.pods = append(g.pods, string(pod))
	}
	return g
}

// next returns the next entry and its bug.
func (g *generator) next() (dlq.Entry, int) {
	r, i := g.r, g.i
	g.i++
	ts, b := g.p.ts[i], int(g.p.bug[i])
	bg := &bugs[b]
	g.buf = bg.render(g.buf[:0], r, ts)
	e := dlq.Entry{
		Timestamp:   time.UnixMilli(ts),
		Service:     g.o.Service,
		Reason:      bg.reason,
		Error:       string(g.buf),
		Attempts:    1 + r.IntN(5),
		Destination: bg.destination,
		ID:          string(appendUUID7(nil, g.ids, ts)),
	}
	partition := int32(r.IntN(partitions))
	tp := bg.topic + "/" + strconv.Itoa(int(partition))
	off, ok := g.offsets[tp]
	if !ok {
		off = 18_000_000 + r.Int64N(1_000_000)
	}
	g.offsets[tp] = off + 1 + r.Int64N(40)
	e.Source = dlq.KafkaSource(bg.topic, partition, off)
	binary := r.Float64() < binaryShare
	e.Payload = appendPayload(nil, r, bg, ts, minPayload+r.IntN(maxPayload-minPayload+1), binary)
	if r.Float64() < keyShare {
		e.Key = appendPrefixed(nil, r, pick(r, "cus", "ord"))
	}
	if r.Float64() < headersShare {
		trace := append([]byte("00-"), appendHex(nil, r, 32)...)
		trace = append(append(append(trace, '-'), appendHex(nil, r, 16)...), "-01"...)
		contentType := "application/json"
		if binary {
			contentType = "application/vnd.confluent.avro"
		}
		e.Headers = []dlq.Header{
			{Key: "traceparent", Value: trace},
			{Key: "content-type", Value: []byte(contentType)},
		}
		if r.IntN(2) == 0 {
			e.Headers = append(e.Headers, dlq.Header{Key: "x-correlation-id", Value: appendUUID4(nil, r)})
		}
		if r.IntN(3) == 0 {
			e.Headers = append(e.Headers, dlq.Header{Key: "x-retry-count", Value: strconv.AppendInt(nil, int64(r.IntN(5)), 10)})
		}
	}
	if r.Float64() < metadataShare {
		e.Metadata = map[string]string{
			"consumer_group": g.o.Service,
			"host":           pick(r, g.pods...),
			"schema_version": pick(r, "v14", "v15"),
		}
	}
	return e, b
}
