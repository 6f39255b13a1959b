package dlq

import (
	"errors"
	"fmt"
	"strings"
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
