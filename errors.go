package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

var (
	// ErrClosed is returned by Send, SendContext and Flush once Close has begun.
	ErrClosed = errors.New("dlq: closed")
	// ErrQueueFull is returned by Send when the queue has no room; the entry
	// was refused and counted in Stats.Dropped.
	ErrQueueFull = errors.New("dlq: queue full")
	// ErrNotConfigured is returned by the package-level Send and Flush when no
	// default orchestrator was set with SetDefault.
	ErrNotConfigured = errors.New("dlq: no default orchestrator (call dlq.SetDefault)")
	// ErrBackendNotBuilt is wrapped by the error New returns when the config
	// enables a backend whose build tag was not given.
	ErrBackendNotBuilt = errors.New("dlq: backend not built")
	// ErrMalformedEnvelope is wrapped by ParseEnvelope's errors.
	ErrMalformedEnvelope = errors.New("dlq: malformed envelope")
	// ErrInvalidConfig is wrapped by the error New returns for a bad Config.
	ErrInvalidConfig = errors.New("dlq: invalid config")
	// ErrOversize is wrapped by a backend's per-entry error when an entry is
	// larger than that backend can ever take. An entry every backend refuses
	// as oversize is lost with reason "oversize" instead of retried.
	ErrOversize = errors.New("dlq: entry too large")
	// ErrNotWritten is matched by Flush's error when its context ended (or
	// Close began) before every entry accepted before the call was durable.
	// The error also matches the context's error and wraps the backends'
	// last errors; the entries stay with the drain, which goes on retrying.
	ErrNotWritten = errors.New("dlq: entries not yet written")
	// ErrLocked is wrapped by the error New returns when another
	// Orchestrator, in this process or another, holds the file backend's
	// folder. The error names the holder's pid.
	ErrLocked = errors.New("dlq: file folder locked by another writer")
	// ErrLost is matched by Flush's error when entries were lost since the
	// previous Flush (Retry.MaxAttempts spent, too large for every backend);
	// the message gives the count and Stats.LostBy the reasons.
	ErrLost = errors.New("dlq: entries lost")
	// ErrSourceNotBuilt is wrapped by the error OpenReader returns for a
	// Kafka or Redis source when the build tag that reads it was not given.
	ErrSourceNotBuilt = errors.New("dlq: source not built")
	// ErrInvalidTarget is wrapped by the error Replay returns for a target
	// URL it does not take (a scheme it does not know, a Redis URL without
	// its stream).
	ErrInvalidTarget = errors.New("dlq: invalid replay target")
	// ErrTargetFailed is matched by the error Replay returns when the
	// target failed or refused a message; see [ReplayError].
	ErrTargetFailed = errors.New("dlq: replay target failed")
	// ErrCheckpointMismatch is matched by the error Replay returns when its
	// checkpoint file belongs to another replay, or to a version of this
	// package that records replays otherwise; see [CheckpointError].
	ErrCheckpointMismatch = errors.New("dlq: checkpoint belongs to another replay")
)

// BackendError is a failure of one backend on one batch (or one entry). It
// carries the backend's kind, how many entries it concerned, and the cause.
type BackendError struct {
	// Kind is the backend that failed.
	Kind Kind
	// Entries is how many entries the failure concerned.
	Entries int
	// Err is the cause.
	Err error
}

// Error describes the failure.
func (e *BackendError) Error() string {
	if e.Entries == 0 {
		return fmt.Sprintf("dlq: %s backend: %v", e.Kind, e.Err)
	}
	return fmt.Sprintf("dlq: %s backend failed %d entries: %v", e.Kind, e.Entries, e.Err)
}

// Unwrap returns the cause.
func (e *BackendError) Unwrap() error { return e.Err }

// ReplayError is the error of a [Replay] that stopped before the end of its
// source (the target failed, the source could not be read, the context
// ended), or whose checkpoint could not be written. The ReplayResult
// returned with it counts what was done. It matches ErrTargetFailed when
// the target failed, and Err.
type ReplayError struct {
	// Sent is how many entries the target confirmed in this run before
	// the replay stopped.
	Sent uint64
	// Failed is how many entries of the batch the target failed were not
	// confirmed (ReplayResult.Failed).
	Failed uint64
	// Err is the cause: the target's error, the source's, the context's
	// or the checkpoint's.
	Err error
	// target: the target failed; whole: every entry was handled and only
	// the checkpoint's last write failed.
	target, whole bool
}

// Error says how many entries were sent before the replay stopped, and why.
func (e *ReplayError) Error() string {
	switch {
	case e.whole:
		return fmt.Sprintf("dlq: replay: %d sent: %v", e.Sent, e.Err)
	case e.target || e.Failed > 0:
		return fmt.Sprintf("dlq: replay stopped: %d sent, %d failed: %v", e.Sent, e.Failed, e.Err)
	}
	return fmt.Sprintf("dlq: replay stopped: %d sent: %v", e.Sent, e.Err)
}

// Unwrap returns Err, and ErrTargetFailed when the target failed.
func (e *ReplayError) Unwrap() []error {
	if e.target {
		return []error{ErrTargetFailed, e.Err}
	}
	return []error{e.Err}
}

// CheckpointError is the error of a [Replay] whose checkpoint file belongs
// to another replay: resuming after its position would skip entries that
// were sent somewhere else, or never selected. It names the differences.
// The file is left as it was. It matches ErrCheckpointMismatch.
type CheckpointError struct {
	// Path is the checkpoint file.
	Path string
	// Version is the version of the file's form. A file of a version this
	// package does not read is refused whole, without Differences.
	Version int
	// Differences lists how the file's replay differs from the one asked
	// for.
	Differences []CheckpointDifference
}

// CheckpointDifference is one way a checkpoint's replay differs from the
// replay asked for.
type CheckpointDifference struct {
	// Field is what differs: "source", "target", or the selection's
	// "reason", "service", "destination", "since", "until", "id",
	// "fingerprint" or "max_replays" (as the checkpoint file names them).
	Field string
	// Had is the checkpoint's value, as text; several are joined by commas.
	Had string
	// Asked is the replay's value, as text.
	Asked string
}

// Error names the file and every difference.
func (e *CheckpointError) Error() string {
	switch {
	case e.Version > checkpointVersion:
		return fmt.Sprintf("dlq: checkpoint %s is of version %d, written by a newer dlq than this one (which reads version %d): use that dlq, or remove it to replay from the start",
			e.Path, e.Version, checkpointVersion)
	case e.Version < checkpointBaseVersion:
		return fmt.Sprintf("dlq: checkpoint %s does not record the target and filters of its replay (written by an older dlq): remove it to replay from the start", e.Path)
	}
	diff := make([]string, len(e.Differences))
	for i, d := range e.Differences {
		diff[i] = fmt.Sprintf("%s %q, not %q", d.Field, d.Had, d.Asked)
	}
	return fmt.Sprintf("dlq: checkpoint %s belongs to another replay: %s; replay with the same source, target and selection, or use another checkpoint file",
		e.Path, strings.Join(diff, "; "))
}

// Unwrap returns ErrCheckpointMismatch.
func (e *CheckpointError) Unwrap() error { return ErrCheckpointMismatch }

// FieldError names one invalid Config field.
type FieldError struct {
	// Field is the config key path, e.g. "kafka.acks".
	Field string
	// Problem says what is wrong with it.
	Problem string
	// Err is a sentinel the problem matches, such as ErrBackendNotBuilt, or nil.
	Err error
	// Line is the field's line in the document ParseConfig or LoadConfig
	// read, or 0.
	Line int
}

// Error names the line, the field and the problem.
func (e *FieldError) Error() string {
	s := e.Problem
	if e.Field != "" {
		s = e.Field + ": " + s
	}
	if e.Line > 0 {
		s = fmt.Sprintf("line %d: %s", e.Line, s)
	}
	return s
}

// Unwrap returns the sentinel the problem matches, if any.
func (e *FieldError) Unwrap() error { return e.Err }

// ConfigError lists every invalid field of a Config. It matches
// ErrInvalidConfig, and ErrBackendNotBuilt when a field enables a backend
// that was not built.
type ConfigError struct {
	// File is the file LoadConfig read, or empty.
	File string
	// Fields holds one error per invalid field, in config order.
	Fields []*FieldError
}

// Error lists every invalid field.
func (e *ConfigError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	if e.File != "" {
		return "dlq: invalid config in " + e.File + ": " + strings.Join(parts, "; ")
	}
	return "dlq: invalid config: " + strings.Join(parts, "; ")
}

// Unwrap returns ErrInvalidConfig and each field's error.
func (e *ConfigError) Unwrap() []error {
	errs := make([]error, 0, len(e.Fields)+1)
	errs = append(errs, ErrInvalidConfig)
	for _, f := range e.Fields {
		errs = append(errs, f)
	}
	return errs
}

// flushError is Flush's error: one line of text, matching every error it
// holds with errors.Is and errors.As, as errors.Join does (whose text takes
// a line per error).
type flushError struct {
	text string
	errs []error
}

func (e *flushError) Error() string   { return e.text }
func (e *flushError) Unwrap() []error { return e.errs }

// notWritten says that count entries are not yet written, with their
// distinct causes, and why Flush stopped waiting (end).
func notWritten(count int, causes []error, end error) error {
	text := fmt.Sprintf("dlq: flush: %d entries not yet written", count)
	if len(causes) > 0 {
		text += " (" + causeTexts(causes) + ")"
	}
	errs := append([]error{ErrNotWritten}, causes...)
	return &flushError{text: text + ": " + oneLine(end), errs: append(errs, end)}
}

// notSynced says that every entry is written but a sync failed.
func notSynced(syncErr, end error) error {
	text := "dlq: flush: entries written but not synced"
	errs := []error{ErrNotWritten}
	if syncErr != nil {
		text += " (" + causeTexts([]error{syncErr}) + ")"
		errs = append(errs, syncErr)
	}
	return &flushError{text: text + ": " + oneLine(end), errs: append(errs, end)}
}

// lostSince says that n entries were lost since the previous Flush.
func lostSince(n int) error {
	return &flushError{text: fmt.Sprintf("dlq: flush: %d entries lost since the previous Flush (see Stats.LostBy)", n), errs: []error{ErrLost}}
}

// joinLine joins the non-nil errs on one line, "; " between them.
func joinLine(errs ...error) error {
	var kept []error
	var texts []string
	for _, err := range errs {
		if err != nil {
			kept = append(kept, err)
			texts = append(texts, oneLine(err))
		}
	}
	switch len(kept) {
	case 0:
		return nil
	case 1:
		return kept[0]
	}
	return &flushError{text: strings.Join(texts, "; "), errs: kept}
}

// causeTexts lists the distinct causes, without the "dlq: " prefix or a
// backend error's entry count, which differs from batch to batch.
func causeTexts(causes []error) string {
	var texts []string
	for _, err := range causes {
		for _, t := range strings.Split(oneLine(err), "; ") {
			if !slices.Contains(texts, causeText(t)) {
				texts = append(texts, causeText(t))
			}
		}
	}
	return strings.Join(texts, "; ")
}

// causeText is one cause's text, shortened.
func causeText(t string) string {
	t = strings.TrimPrefix(t, "dlq: ")
	if kind, rest, ok := strings.Cut(t, " backend failed "); ok {
		if _, cause, ok := strings.Cut(rest, " entries: "); ok {
			return kind + " backend: " + cause
		}
	}
	return t
}

// oneLine is err's text with the lines errors.Join puts between errors
// turned into "; ".
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// sameCause reports whether err's cause reads as one of causes'.
func sameCause(causes []error, err error) bool {
	t := causeText(oneLine(err))
	for _, c := range causes {
		if causeText(oneLine(c)) == t {
			return true
		}
	}
	return false
}

// warnInterval is how often a repeated warning is logged again, with the
// count of those left out since.
const warnInterval = 10 * time.Second

// warner rate-limits the drain's repeated warnings, so that an outage does
// not flood the log: of each kind of warning the first is logged at once,
// and after that at most one per warnInterval, which says how many were
// left out since the last one logged. Stats, OnError and OnLoss still see
// every one. Only the drain goroutine uses it.
type warner struct {
	log   *slog.Logger
	clock func() time.Time
	kinds map[string]*warning
}

// warning is the state of one kind of warning.
type warning struct {
	last       time.Time // when one was last logged
	suppressed int       // left out since
}

func newWarner(log *slog.Logger, clock func() time.Time) *warner {
	return &warner{log: log, clock: clock, kinds: map[string]*warning{}}
}

// logf logs msg with args under kind, unless one of the same kind was
// logged less than warnInterval ago; then it only counts it.
func (w *warner) logf(kind string, level slog.Level, msg string, args ...any) {
	now := w.clock()
	k := w.kinds[kind]
	if k == nil {
		k = &warning{}
		w.kinds[kind] = k
	} else if now.Sub(k.last) < warnInterval {
		k.suppressed++
		return
	}
	if k.suppressed > 0 {
		args = append(args, "suppressed", k.suppressed, "since", k.last)
	}
	k.last, k.suppressed = now, 0
	w.log.Log(context.Background(), level, msg, args...)
}

// summarize logs how many of each kind were left out since the last one
// logged, at Close.
func (w *warner) summarize() {
	for kind, k := range w.kinds {
		if k.suppressed > 0 {
			w.log.Warn("dlq: warnings left out", "kind", kind, "suppressed", k.suppressed, "since", k.last)
			k.suppressed = 0
		}
	}
}
