package dlq

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dlqkit/dlq/internal/wire"
)

// Defaults of ReaderOptions.
const (
	defaultMaxLineBytes = 64 << 20
	defaultPollInterval = 250 * time.Millisecond
)

// ReaderOptions configures a [Reader]. The zero value reads every entry the
// source holds when iteration starts, then stops.
type ReaderOptions struct {
	// Filter selects the entries to yield; the zero Filter selects all.
	// It is applied while reading: entries it rejects are never held.
	Filter Filter
	// Follow keeps reading new entries as they arrive, until the context
	// ends, instead of stopping at what the source held at the start.
	Follow bool
	// After resumes reading after this position, a [Record.Position] an
	// earlier read yielded. Empty: from the beginning (or from
	// Filter.Since where the source can seek by time).
	After string
	// MaxLineBytes caps one NDJSON line of a file source, in bytes; a longer
	// line is skipped and counted as unreadable without being held in
	// memory. Defaults to 64 MiB.
	MaxLineBytes int
	// CaughtUp, when set, is called once per iteration in Follow mode, when
	// everything the source held at the start has been read and the Reader
	// starts waiting for new entries (tail -f prints its backlog then).
	CaughtUp func()
	// PollInterval is how often a followed file is checked for growth.
	// Defaults to 250 ms.
	PollInterval time.Duration
	// Warn, when set, is told of each file a Reader could read only in
	// part or not at all (a truncated or corrupt .gz, whose rest is also
	// counted in ReadStats.Unreadable; a file removed before its turn
	// came), by an error naming the file. Nil: slog.Default logs them.
	// It is called from the goroutine that iterates, in the source's order.
	Warn func(error)
	// Last, when positive, yields only the last Last entries the filter
	// selects (the ones an iteration without it would yield last), in
	// the same order. A folder is then read newest file first, and its
	// older files not at all once they are found; with Follow, the
	// entries that arrive after are yielded as they come. Memory holds
	// Last entries. 0 yields every entry.
	Last int
	// SkipPayload leaves Entry.Payload nil in the records yielded, for a
	// reader that counts or groups entries and never looks at a payload:
	// each line's payload is still checked, so the same lines are
	// unreadable and the same entries yielded, but it is not decoded. Key
	// and header values are decoded as usual.
	SkipPayload bool
}

func (o *ReaderOptions) maxLineBytes() int {
	if o.MaxLineBytes <= 0 {
		return defaultMaxLineBytes
	}
	return o.MaxLineBytes
}

func (o *ReaderOptions) pollInterval() time.Duration {
	if o.PollInterval <= 0 {
		return defaultPollInterval
	}
	return o.PollInterval
}

// Record is one entry read back, with where it was read.
type Record struct {
	// Entry is the decoded envelope.
	Entry Entry
	// Position locates the entry in its source, in a form
	// [ReaderOptions.After] accepts: "FILE:OFFSET:HEAD" for files (FILE
	// relative to the source, OFFSET the byte just past the line, HEAD a
	// digest of the file's first line, by which a resume finds the file
	// wherever rotations moved it and however it was compressed), e.g.
	// "dlq.ndjson:267:9f86d081884c7d65"; "PARTITION:OFFSET" for Kafka; the
	// stream entry id for Redis.
	Position string
}

// ReadStats counts what one iteration of a [Reader] has seen so far. A
// file a filter rules out by the time in its name (see [Filter]) is not
// read, and its lines are not counted.
type ReadStats struct {
	// Read is how many entries were decoded.
	Read uint64
	// Matched is how many of them the filter selected.
	Matched uint64
	// Unreadable is how many lines or messages were skipped: torn, foreign
	// or too long.
	Unreadable uint64
}

// Reader reads the entries of a DLQ back from a source: an NDJSON file, a
// service folder (its rotated and gzipped files oldest first, the live
// dlq.ndjson last), a folder of service folders, a Kafka topic (every
// partition) or a Redis stream.
//
// A folder's files are held open from the moment it is listed: a rotation
// (or a compression) between the listing and the read moves no file out
// of reach and brings none in, so every entry the folder held at the start
// is read once. Following, every file rotated since the last look is read,
// in order, before the new live file, in every service of the folder.
//
// Memory stays bounded whatever the source's size: entries are decoded one
// at a time and handed to the loop, never collected. Lines or messages that
// do not decode as an envelope are skipped and counted, never fatal.
//
// A folder's files are read in parallel, up to GOMAXPROCS at a time, each
// decompressed and decoded ahead of the loop by a goroutine of its own,
// and handed over in order: the entries, Stats and warnings come as a read
// of one file after the other gives them. The read-ahead is bounded:
// GOMAXPROCS+1 files at most are in flight, the entries of 32 MiB of lines
// per CPU are held for the files after the one the loop reads, and of 1
// MiB for that one (one longer line aside). Every goroutine has returned
// when the loop ends, however it ends.
//
// A filter's lines are judged as they are written: a line is decoded into
// an Entry only once the filter selected it.
//
// A Reader is safe for one iteration at a time; Stats may be called from
// any goroutine during it.
type Reader struct {
	src    string
	opts   ReaderOptions
	from   readSource
	stats  readCounters
	caught bool // CaughtUp was called in this iteration
	// backlog, when set, yields the last entries held back for Last by a
	// source that reads in order (Kafka, Redis), before CaughtUp.
	backlog func()
	// liveOpened and listed, when set (by tests), are called when a
	// service folder's live file was opened, before the folder is listed,
	// and after the listing, before its rotated files are opened.
	liveOpened, listed func(dir string)
	// workers, when set (by tests), is how many goroutines read a
	// folder's files; 0 is GOMAXPROCS.
	workers int
	// trace, when set (by tests), is told what a parallel read of a
	// folder's files does with the i-th: "start" when a worker starts on
	// it, "ahead" when a worker took the tokens of the budget for one of
	// its batches, "taken" when the loop takes such a batch, before it
	// gives the tokens back; with the batch's bytes of lines.
	trace func(event string, i, bytes int)
	// aheadBytes, when set (by tests), is the budget of lines decoded
	// ahead of the file the loop reads; 0 is aheadPerWorker per worker.
	aheadBytes int
}

type readCounters struct {
	read, matched, unreadable atomic.Uint64
}

// OpenReader returns a Reader over src: a path (a file or a service
// folder), file://PATH, kafka://HOST:PORT/TOPIC, or
// redis://[:PASSWORD@]HOST:PORT/DB?stream=NAME (rediss:// for TLS). A Kafka
// or Redis source needs the build tag of its backend (dlq_kafka, dlq_redis
// or dlq_all); without it the error wraps [ErrSourceNotBuilt] and names the
// tag. OpenReader checks the source's form only; the source is reached when
// iteration starts.
func OpenReader(src string, opts ReaderOptions) (*Reader, error) {
	from, err := parseSource(src)
	if err != nil {
		return nil, err
	}
	if err := opts.Filter.validate(); err != nil {
		return nil, err
	}
	return &Reader{src: src, opts: opts, from: from}, nil
}

// Source returns the source the Reader was opened on.
func (r *Reader) Source() string { return r.src }

// Stats returns the counts of the current (or last) iteration.
func (r *Reader) Stats() ReadStats {
	return ReadStats{Read: r.stats.read.Load(), Matched: r.stats.matched.Load(), Unreadable: r.stats.unreadable.Load()}
}

// All iterates the entries the filter selects, in the source's order. It
// stops at what the source held when iteration began, unless Follow is
// set. A failure to reach or read the source ends the iteration with one
// non-nil error (the Record is then zero); a line or message that is not an
// envelope is only counted in Stats.Unreadable. Breaking out of the loop
// releases the source. Each call to All reads the source again from the
// start (or from After) and resets Stats.
func (r *Reader) All(ctx context.Context) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		r.stats.read.Store(0)
		r.stats.matched.Store(0)
		r.stats.unreadable.Store(0)
		r.caught, r.backlog = false, nil
		// The source's work ends with the loop: a break cancels what it
		// still waits on.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stopped := false
		out := func(rec Record) bool {
			if stopped || !yield(rec, nil) {
				stopped = true
				cancel()
				return false
			}
			return true
		}
		var err error
		if r.from.kind == KindFile {
			// A file source judges each line itself, filter first, and
			// reads newest first for Last.
			err = r.from.each(ctx, r, out)
		} else {
			err = r.from.each(ctx, r, r.decoded(out))
			if r.backlog != nil && !r.caught {
				r.caught = true
				r.backlog() // Last without Follow: the source ended
			}
		}
		if err != nil && !stopped {
			yield(Record{}, err)
		}
	}
}

// decoded counts and filters the entries that Kafka and Redis decode
// (parseLine) and hands the selected ones to out; for Last it holds the
// last ones back until the source caught up (Follow) or ended.
func (r *Reader) decoded(out func(Record) bool) func(Record) bool {
	var last *lastRing
	if r.opts.Last > 0 {
		last = newLastRing(r.opts.Last)
		r.backlog = func() {
			held := last
			last = nil
			held.each(out)
		}
	}
	return func(rec Record) bool {
		r.stats.read.Add(1)
		if !r.opts.Filter.Match(&rec.Entry) {
			return true
		}
		r.stats.matched.Add(1)
		if r.opts.SkipPayload {
			rec.Entry.Payload = nil
		}
		if last != nil {
			last.push(rec)
			return true
		}
		return out(rec)
	}
}

// caughtUp yields what Last held back, then calls CaughtUp, once per
// iteration; at the end of an iteration that never caught up (no Follow),
// it yields what Last held back.
func (r *Reader) caughtUp() {
	if r.caught {
		return
	}
	r.caught = true
	if r.backlog != nil {
		r.backlog()
	}
	if r.opts.CaughtUp != nil {
		r.opts.CaughtUp()
	}
}

// lastRing keeps the last n records pushed.
type lastRing struct {
	recs []Record
	next int // where the oldest is, once full
	n    int
}

func newLastRing(n int) *lastRing { return &lastRing{n: n, recs: make([]Record, 0, min(n, 1024))} }

func (l *lastRing) push(rec Record) {
	if len(l.recs) < l.n {
		l.recs = append(l.recs, rec)
		return
	}
	l.recs[l.next] = rec
	l.next = (l.next + 1) % l.n
}

// ordered returns the records oldest first and empties the ring.
func (l *lastRing) ordered() []Record {
	out := make([]Record, 0, len(l.recs))
	l.each(func(rec Record) bool {
		out = append(out, rec)
		return true
	})
	return out
}

// each hands the records to out oldest first, until out returns false,
// and empties the ring.
func (l *lastRing) each(out func(Record) bool) bool {
	recs, next := l.recs, l.next
	l.recs, l.next = nil, 0
	for i := range recs {
		if !out(recs[(next+i)%len(recs)]) {
			return false
		}
	}
	return true
}

// parseLine decodes one envelope: the fast path for every line the
// library writes, ParseEnvelope for everything else.
func parseLine(data []byte) (Entry, error) {
	if e, ok := parseEnvelopeFast(data); ok {
		return e, nil
	}
	return ParseEnvelope(data)
}

// verdict is what a lineJudge found a line to be.
type verdict uint8

const (
	unreadableLine verdict = iota // not an envelope
	ruledOut                      // an envelope the filter does not select
	selected                      // an envelope the filter selects, decoded
)

// lineJudge judges the lines of files: the fast path notes where each
// field lies, the filter looks at the fields as written, and only a line
// it selects is decoded (with its payload unless SkipPayload). A line the
// fast path does not take is decoded by ParseEnvelope and filtered as an
// Entry. Each goroutine that reads has its own: it keeps scratch space.
type lineJudge struct {
	filter  *Filter
	payload bool
	fields  envelopeFields
	scratch []byte
}

func (r *Reader) newJudge() lineJudge {
	return lineJudge{filter: &r.opts.Filter, payload: !r.opts.SkipPayload}
}

// judge tells what line is; for a selected one it fills e.
func (j *lineJudge) judge(line []byte, e *Entry) verdict {
	w := &j.fields
	w.reset()
	// A payload that is not base64 as written (an escape in it, say) is
	// left to ParseEnvelope with the rest.
	if !scanEnvelope(line, w) || !wire.ValidBase64(w.payload) {
		parsed, err := ParseEnvelope(line)
		switch {
		case err != nil:
			return unreadableLine
		case !j.filter.Match(&parsed):
			return ruledOut
		}
		if !j.payload {
			parsed.Payload = nil
		}
		*e = parsed
		return selected
	}
	if !j.filter.matchFields(w, &j.scratch) {
		return ruledOut
	}
	*e = w.entry(j.payload)
	return selected
}

// warn tells of a file read in part or not at all.
func (r *Reader) warn(err error) {
	if r.opts.Warn != nil {
		r.opts.Warn(err)
		return
	}
	slog.Default().Warn(err.Error())
}

// unreadable counts one skipped line or message.
func (r *Reader) unreadable() { r.stats.unreadable.Add(1) }

// readSource is the closed sum of the sources a Reader reads: a kind and
// one pointer per variant, dispatched by a switch as backend is.
type readSource struct {
	kind  Kind
	file  *fileSource
	kafka *kafkaSource
	redis *redisSource
}

func (s *readSource) each(ctx context.Context, r *Reader, emit func(Record) bool) error {
	switch s.kind {
	case KindFile:
		return s.file.each(ctx, r, emit)
	case KindKafka:
		return s.kafka.each(ctx, r, emit)
	case KindRedis:
		return s.redis.each(ctx, r, emit)
	default:
		panic(fmt.Sprintf("dlq: unknown source kind %d", s.kind))
	}
}

// parseSource tells the source's kind by its form.
func parseSource(src string) (readSource, error) {
	scheme, _, hasScheme := strings.Cut(src, "://")
	if !hasScheme {
		if src == "" {
			return readSource{}, errors.New("dlq: empty source")
		}
		return readSource{kind: KindFile, file: &fileSource{path: src}}, nil
	}
	u, err := url.Parse(src)
	if err != nil {
		return readSource{}, fmt.Errorf("dlq: source: %w", redactURLError(err))
	}
	switch scheme {
	case "file":
		path := u.Path
		if u.Host != "" && u.Host != "localhost" {
			path = u.Host + u.Path // file://relative/dir
		}
		if path == "" {
			return readSource{}, errors.New("dlq: source file:// names no path")
		}
		return readSource{kind: KindFile, file: &fileSource{path: path}}, nil
	case "kafka":
		k, err := newKafkaSource(u)
		return readSource{kind: KindKafka, kafka: k}, err
	case "redis", "rediss", "unix":
		rs, err := newRedisSource(u)
		return readSource{kind: KindRedis, redis: rs}, err
	default:
		return readSource{}, fmt.Errorf("dlq: source scheme %q is not file, kafka, redis, rediss or unix", scheme)
	}
}

// sourceNotBuilt is the error for a source whose build tag is missing.
func sourceNotBuilt(kind Kind) error {
	return fmt.Errorf("%w: reading %s needs build tag %s or dlq_all (go install -tags dlq_all github.com/dlqkit/dlq/cmd/dlq@latest)",
		ErrSourceNotBuilt, kind, buildTags[kind])
}

// Filter selects entries by their fields. Every set field must match; the
// zero Filter selects every entry. Patterns are globs as [path.Match]
// reads them: * matches any run of characters, ? one, [a-z] a class.
//
// In a folder, a rotated file whose name says it was rotated more than
// five minutes before Since is not read: it holds no entry at or after
// Since, as long as no entry's Timestamp is more than five minutes ahead
// of the clock of the process that wrote it (the library stamps entries
// with that clock when they have no Timestamp). The same holds for the
// time of IDs when it is one UUIDv7, which carries its entry's Timestamp
// (the library makes the ids so): the files rotated before it are passed
// over, and read after the others only when the id was not found there,
// so that no entry is lost either way. Several IDs rule out no file by
// their time: entries found in the newer files would come before older
// ones found after, out of the order a resume position counts on. Until rules out no
// file: an entry may be written long after its Timestamp (a retry, a
// caller's own Timestamp).
type Filter struct {
	// Reasons selects entries whose Reason matches any of these globs.
	Reasons []string
	// Service selects entries whose Service matches this glob.
	Service string
	// Destination selects entries whose Destination matches this glob.
	Destination string
	// Since selects entries at or after this time.
	Since time.Time
	// Until selects entries before this time.
	Until time.Time
	// IDs selects entries with one of these ids.
	IDs []string
	// Fingerprints selects entries whose error text has one of these
	// fingerprints: [Fingerprint] of Entry.Error, as inspect's
	// --group-by fingerprint prints it (of the same FingerprintVersion).
	Fingerprints []string
}

// Match reports whether the filter selects e.
func (f *Filter) Match(e *Entry) bool {
	if len(f.Reasons) > 0 && !slices.ContainsFunc(f.Reasons, func(p string) bool { return globMatch(p, e.Reason) }) {
		return false
	}
	if f.Service != "" && !globMatch(f.Service, e.Service) {
		return false
	}
	if f.Destination != "" && !globMatch(f.Destination, e.Destination) {
		return false
	}
	if !f.Since.IsZero() && e.Timestamp.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Timestamp.Before(f.Until) {
		return false
	}
	if len(f.IDs) > 0 && !slices.Contains(f.IDs, e.ID) {
		return false
	}
	return len(f.Fingerprints) == 0 || slices.Contains(f.Fingerprints, Fingerprint(e.Error))
}

// matchFields is Match for an envelope's fields as the fast path found
// them: each string as written when it has no escape, else decoded into
// scratch.
func (f *Filter) matchFields(w *envelopeFields, scratch *[]byte) bool {
	if len(f.Reasons) > 0 {
		reason := w.str[strField(fReason)].bytes(scratch)
		if !slices.ContainsFunc(f.Reasons, func(p string) bool { return globMatchBytes(p, reason) }) {
			return false
		}
	}
	if f.Service != "" && !globMatchBytes(f.Service, w.str[strField(fService)].bytes(scratch)) {
		return false
	}
	if f.Destination != "" && !globMatchBytes(f.Destination, w.str[strField(fDestination)].bytes(scratch)) {
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t := time.UnixMilli(w.timestamp)
		if !f.Since.IsZero() && t.Before(f.Since) || !f.Until.IsZero() && !t.Before(f.Until) {
			return false
		}
	}
	if len(f.IDs) > 0 && !f.hasID(w.str[strField(fID)].bytes(scratch)) {
		return false
	}
	// Last: masking the error text costs the most.
	return len(f.Fingerprints) == 0 ||
		slices.Contains(f.Fingerprints, Fingerprint(string(w.str[strField(fError)].bytes(scratch))))
}

// hasID reports whether id is one of the filter's IDs.
func (f *Filter) hasID(id []byte) bool {
	for _, want := range f.IDs {
		if string(id) == want {
			return true
		}
	}
	return false
}

// globMatchBytes is globMatch for a value as bytes; a pattern without
// wildcards is compared as it is.
func globMatchBytes(pattern string, b []byte) bool {
	if !strings.ContainsAny(pattern, `*?[\`) {
		return string(b) == pattern
	}
	return globMatch(pattern, string(b))
}

// validate checks the filter's patterns and time range.
func (f *Filter) validate() error {
	patterns := append(slices.Clone(f.Reasons), f.Service, f.Destination)
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("dlq: filter: pattern %q: %w", p, err)
		}
	}
	if !f.Until.IsZero() && f.Until.Before(f.Since) {
		return fmt.Errorf("dlq: filter: until %s is before since %s", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	return nil
}

func globMatch(pattern, s string) bool {
	ok, _ := path.Match(pattern, s) // patterns are checked by validate
	return ok
}

// ParseTimeBound reads a time for Filter.Since or Filter.Until: an RFC 3339
// time ("2026-11-27T08:00:00Z"), or a duration back from now ("90m", "2h",
// "7d"; d is 24 hours).
func ParseTimeBound(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n >= 0 {
			return now.Add(-time.Duration(n * 24 * float64(time.Hour))), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("dlq: %q is neither an RFC 3339 time nor a duration such as 2h or 7d", s)
	}
	return now.Add(-d), nil
}
