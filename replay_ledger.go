package dlq

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"time"

	"github.com/dlqkit/dlq/internal/redact"
)

// The ledger: one JSON line per entry a replay's target confirmed,
//
//	{"at":"2026-05-04T10:00:00.123Z","to":"http://svc/ingest","id":"0196..."}
//
// appended after each batch the target confirmed, and fsynced before the
// checkpoint moves past it (without a checkpoint, every
// ledgerSyncInterval): the
// ledger is never behind the checkpoint, so that a replay killed at any
// moment leaves in the ledger every entry the checkpoint counts, and
// perhaps entries past it, which a rerun with OnlyPending skips. A line
// torn by a kill can only be the last; it is ignored on reading and cut
// before appending.

// ledgerSyncInterval is how often a replay without a checkpoint fsyncs
// its ledger.
const ledgerSyncInterval = checkpointInterval

// LedgerRecord is one line of a replay ledger: an entry a [Replay]'s
// target confirmed.
type LedgerRecord struct {
	// Time is when the target confirmed the entry (to the millisecond).
	Time time.Time `json:"at"`
	// Target is the replay's target, its password hidden.
	Target string `json:"to"`
	// ID is the entry's id.
	ID string `json:"id"`
}

// ReadLedger returns the records of the ledger at path, in the order they
// were written, and an error if the file cannot be read or holds a line
// that is not a record (a torn last line, left by a replay killed while
// writing it, is not an error: it is left out).
func ReadLedger(path string) iter.Seq2[LedgerRecord, error] {
	return func(yield func(LedgerRecord, error) bool) {
		f, err := os.Open(path)
		if err != nil {
			yield(LedgerRecord{}, fmt.Errorf("dlq: ledger: %w", err))
			return
		}
		defer f.Close()
		_, err = scanLedger(f, path, func(line []byte) error {
			var rec LedgerRecord
			if err := json.Unmarshal(line, &rec); err != nil {
				return err
			}
			if !yield(rec, nil) {
				return errStopScan
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			yield(LedgerRecord{}, err)
		}
	}
}

// errStopScan ends scanLedger early, without an error.
var errStopScan = errors.New("stop")

// ledgerLineStart is how every line a replay writes to its ledger begins.
var ledgerLineStart = []byte(`{"at":"`)

// scanLedger calls fn with each complete line of the ledger r (path names
// it in errors) and returns the offset just past the last complete line:
// a last record without its newline is complete (the offset is then one
// past the file's end), the start of a line torn by a kill is not; any
// other end is an error, for a file that is not a ledger.
func scanLedger(r io.Reader, path string, fn func(line []byte) error) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var end int64
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) { // a long id: gather the line
			long := bytes.Clone(line)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return end, fmt.Errorf("dlq: ledger %s: %w", path, err)
		}
		if err != nil { // io.EOF: what is left, if anything, has no newline
			switch {
			case len(line) == 0:
				return end, nil
			case json.Valid(line): // a whole record: read it, its newline added on appending
				line = append(bytes.Clone(line), '\n')
			case bytes.HasPrefix(line, ledgerLineStart) || bytes.HasPrefix(ledgerLineStart, line):
				return end, nil // a line torn by a kill: left out
			default: // not ours to cut
				return end, fmt.Errorf("dlq: ledger %s ends with %d bytes that are neither a ledger record nor one torn by a kill: is it a ledger?", path, len(line))
			}
		}
		if ferr := fn(line[:len(line)-1]); ferr != nil {
			if errors.Is(ferr, errStopScan) {
				return end, ferr
			}
			return end, fmt.Errorf("dlq: ledger %s line %d is not a ledger record: %w", path, n, ferr)
		}
		end += int64(len(line))
	}
}

// ledgerPath is the ledger a replay keeps: Ledger, else one next to its
// Checkpoint; "" for none.
func (o *ReplayOptions) ledgerPath() string {
	switch {
	case o.Ledger != "":
		return o.Ledger
	case o.Checkpoint != "":
		return o.Checkpoint + ".ledger"
	}
	return ""
}

// replayLedger appends a replay's confirmed entries to its ledger and,
// with OnlyPending, knows which entries the ledger says the target
// confirmed already. A nil *replayLedger (no ledger) records nothing and
// knows of nothing.
type replayLedger struct {
	path   string
	to     string   // the target, its password hidden
	quoted []byte   // to as a line holds it, JSON-quoted
	f      *os.File // nil in a dry run: it writes nothing
	done   *idSet   // with OnlyPending
	line   []byte   // scratch
	dirty  bool     // written since the last fsync
	timed  bool     // no checkpoint: fsync every ledgerSyncInterval
	synced time.Time
	err    error // the first write's failure: nothing more is written, and the checkpoint no longer moves
}

// openLedger opens the ledger of a replay to target (a dry run only reads
// it, and only with OnlyPending): it reads the ids the target confirmed
// when OnlyPending asks, cuts a torn last line and opens the file to
// append.
func openLedger(opts *ReplayOptions, target string) (*replayLedger, error) {
	path := opts.ledgerPath()
	if path == "" {
		if opts.OnlyPending {
			return nil, errors.New("dlq: replay: OnlyPending needs a Ledger (or a Checkpoint, next to which the ledger is kept)")
		}
		return nil, nil
	}
	to := redact.URL(target)
	quoted, _ := json.Marshal(to)
	l := &replayLedger{path: path, to: to, quoted: quoted, synced: time.Now(), timed: opts.Checkpoint == ""}
	if opts.OnlyPending {
		l.done = newIDSet()
	}
	if opts.DryRun {
		if l.done == nil {
			return nil, nil
		}
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return l, nil
		}
		if err != nil {
			return nil, fmt.Errorf("dlq: ledger: %w", err)
		}
		defer f.Close()
		_, err = l.load(f)
		return l, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dlq: ledger: %w", err)
	}
	end, err := l.load(f)
	if err == nil {
		err = cutTorn(f, end)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	l.f = f
	return l, nil
}

// load reads the ledger from f and returns the offset past its last
// complete line; with OnlyPending it gathers the ids confirmed by the
// target.
func (l *replayLedger) load(f *os.File) (int64, error) {
	var rec LedgerRecord
	return scanLedger(f, l.path, func(line []byte) error {
		if l.done == nil {
			if !json.Valid(line) {
				return errors.New("not JSON")
			}
			return nil
		}
		rec = LedgerRecord{}
		if err := json.Unmarshal(line, &rec); err != nil {
			return err
		}
		if rec.Target == l.to {
			l.done.add(rec.ID)
		}
		return nil
	})
}

// cutTorn cuts what follows the last complete line of the ledger f (a line
// torn by a kill), or ends a last record that lacks its newline, so that
// the next line starts on a line of its own; a
// new ledger's folder is fsynced so that its name survives a crash.
func cutTorn(f *os.File, end int64) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("dlq: ledger: %w", err)
	}
	switch {
	case st.Size() > end:
		if err := f.Truncate(end); err != nil {
			return fmt.Errorf("dlq: ledger: cutting a torn last line: %w", err)
		}
	case st.Size() < end: // its last record lacks the newline
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return fmt.Errorf("dlq: ledger: ending its last line: %w", err)
		}
	}
	if st.Size() == 0 {
		if dir, err := os.Open(filepath.Dir(f.Name())); err == nil {
			_ = dir.Sync() // best effort, as the checkpoint's
			_ = dir.Close()
		}
	}
	return nil
}

// replayed reports whether the ledger says the target confirmed id
// already (always false without OnlyPending).
func (l *replayLedger) replayed(id string) bool {
	return l != nil && l.done != nil && id != "" && l.done.has(id)
}

// record appends the confirmed messages to the ledger in one write. With
// a checkpoint, the checkpoint's writes fsync it first; without, it
// fsyncs when the last fsync is ledgerSyncInterval old.
func (l *replayLedger) record(confirmed []replayMsg) error {
	if l == nil || l.f == nil {
		return nil
	}
	if l.err != nil { // even with nothing to add: the caller learns the ledger failed
		return l.err
	}
	if len(confirmed) == 0 {
		return nil
	}
	now := time.Now()
	at := now.UTC().AppendFormat(nil, `"2006-01-02T15:04:05.000Z07:00"`)
	l.line = l.line[:0]
	for _, m := range confirmed {
		id, _ := json.Marshal(m.entry.ID)
		l.line = append(l.line, `{"at":`...)
		l.line = append(l.line, at...)
		l.line = append(l.line, `,"to":`...)
		l.line = append(l.line, l.quoted...)
		l.line = append(l.line, `,"id":`...)
		l.line = append(l.line, id...)
		l.line = append(l.line, "}\n"...)
	}
	if _, err := l.f.Write(l.line); err != nil {
		l.err = fmt.Errorf("dlq: ledger %s: %w", l.path, err)
		return l.err
	}
	l.dirty = true
	if l.timed && now.Sub(l.synced) >= ledgerSyncInterval {
		return l.sync()
	}
	return nil
}

// sync fsyncs what record wrote; the checkpoint moves only after it did.
// A failed write fails every sync after it.
func (l *replayLedger) sync() error {
	if l == nil || l.f == nil {
		return nil
	}
	if l.err != nil {
		return l.err
	}
	if !l.dirty {
		return nil
	}
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("dlq: ledger %s: %w", l.path, err)
		return l.err
	}
	l.dirty, l.synced = false, time.Now()
	return nil
}

// close fsyncs and closes the ledger.
func (l *replayLedger) close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.sync()
	if cerr := l.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("dlq: ledger %s: %w", l.path, cerr)
	}
	l.f = nil
	return err
}

// idSet is a set of entry ids: those in the canonical form of a UUID (the
// ids the drain gives) in 16 bytes each, any other as a string. A million
// UUIDs take about 40 MB (see TestIDSetMemory).
type idSet struct {
	uuids map[[16]byte]struct{}
	other map[string]struct{}
}

func newIDSet() *idSet {
	return &idSet{uuids: map[[16]byte]struct{}{}, other: map[string]struct{}{}}
}

func (s *idSet) add(id string) {
	if id == "" { // an entry without an id cannot be told from another
		return
	}
	if u, ok := parseUUID(id); ok {
		s.uuids[u] = struct{}{}
		return
	}
	s.other[id] = struct{}{}
}

func (s *idSet) has(id string) bool {
	if u, ok := parseUUID(id); ok {
		_, found := s.uuids[u]
		return found
	}
	_, found := s.other[id]
	return found
}

func (s *idSet) len() int { return len(s.uuids) + len(s.other) }

// parseUUID reads a UUID written as the drain writes one: 36 characters,
// lowercase hex, dashes at 8, 13, 18 and 23. Any other spelling is not
// one, so that two ids that differ as strings never meet in the set.
func parseUUID(id string) (u [16]byte, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return u, false
	}
	var digits [32]byte
	n := 0
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			continue
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'f':
			digits[n] = c
			n++
		default:
			return u, false
		}
	}
	if _, err := hex.Decode(u[:], digits[:]); err != nil {
		return u, false
	}
	return u, true
}

// skipReplayed passes over an entry OnlyPending skips, counting it.
func (run *replayRun) skipReplayed(rec *Record) bool {
	if !run.ledger.replayed(rec.Entry.ID) {
		return false
	}
	run.alreadyReplayed++
	run.handled = rec.Position
	run.progress.update(run, rec.Position)
	return true
}

// recordUpTo appends the pending messages up to n that the target
// confirmed one by one (sendReport.confirmed) and the ledger lacks. A
// failure is kept by the ledger, returned by recordConfirmed, and returned
// here: the target sends nothing more, which the ledger could not record.
func (run *replayRun) recordUpTo(n int) error {
	if n <= run.recorded {
		return nil
	}
	err := run.ledger.record(run.pending[run.recorded:n])
	run.recorded = n
	return err
}

// recordConfirmed appends the first sent pending messages, which the
// target confirmed, to the ledger (those recordUpTo has not already); a
// failure stops the replay.
func (run *replayRun) recordConfirmed(sent int) error {
	from := min(run.recorded, sent)
	run.recorded = 0
	if err := run.ledger.record(run.pending[from:sent]); err != nil {
		run.err = err
		run.progress.update(run, run.handled)
		return err
	}
	return nil
}
