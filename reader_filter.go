package dlq

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Filter selects entries by their fields. Every set field must match; the
// zero Filter selects every entry. Patterns are globs as [path.Match]
// reads them: * matches any run of characters, ? one, [a-z] a class.
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
	return len(f.IDs) == 0 || slices.Contains(f.IDs, e.ID)
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
