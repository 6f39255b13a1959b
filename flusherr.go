package dlq

import (
	"fmt"
	"slices"
	"strings"
)

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
