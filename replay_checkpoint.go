package dlq

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dlqkit/dlq/internal/redact"
)

// The versions of the checkpoint file's form. A file of a version below
// checkpointBaseVersion predates the target and the filters and is
// refused: its progress cannot be known to belong to this replay. A replay
// selecting by fingerprint writes checkpointVersion, which a dlq that
// cannot compare fingerprints refuses; any other writes
// checkpointBaseVersion, which every dlq since reads.
const (
	checkpointBaseVersion = 2
	checkpointVersion     = 3
)

// checkpointInterval is how often a replay without a Rate rewrites its
// checkpoint.
const checkpointInterval = 250 * time.Millisecond

// checkpointEvery returns after how many confirmed entries a replay capped
// at rate per second rewrites its checkpoint: a checkpointInterval's worth,
// so at most four times a second (fewer when the target is slower), and a
// killed replay sends again at most that many and the batch in flight. 0
// (no cap) leaves it to the clock.
func checkpointEvery(rate float64) uint64 {
	if rate <= 0 {
		return 0
	}
	return uint64(math.Ceil(rate * checkpointInterval.Seconds()))
}

// checkpoint is what a checkpoint file holds: which replay it belongs to
// (source, target and selection) and how far the target confirmed it.
type checkpoint struct {
	Version int          `json:"version"`
	Source  string       `json:"source"`
	Target  string       `json:"target"` // its password hidden
	Filter  replayFilter `json:"filter"`
	// Position is the Record.Position of the last entry the target
	// confirmed (or that MaxReplays refused after it): a rerun resumes
	// after it.
	Position string `json:"position"`
	// Replayed counts the entries the target confirmed up to Position, over
	// every run of this replay.
	Replayed uint64 `json:"replayed"`
}

// replayFilter is a replay's selection as it was asked for, with the
// times a relative since or until stood for when the replay began, so that
// a resumed replay selects the same entries.
type replayFilter struct {
	Reasons      []string  `json:"reason,omitempty"`
	Service      string    `json:"service,omitempty"`
	Destination  string    `json:"destination,omitempty"`
	Since        string    `json:"since,omitempty"`
	SinceTime    time.Time `json:"since_time,omitzero"`
	Until        string    `json:"until,omitempty"`
	UntilTime    time.Time `json:"until_time,omitzero"`
	IDs          []string  `json:"id,omitempty"`
	Fingerprints []string  `json:"fingerprint,omitempty"`
	MaxReplays   int       `json:"max_replays,omitempty"`
}

// replaySelection returns the filter a replay reads with, and its
// selection as a checkpoint records it: opts.Filter, its time bounds those
// opts.Since and opts.Until stand for at now when they are given.
func replaySelection(opts *ReplayOptions, now time.Time) (Filter, replayFilter, error) {
	f := opts.Filter
	sorted := func(s []string) []string {
		s = slices.Clone(s)
		slices.Sort(s)
		return slices.Compact(s)
	}
	sel := replayFilter{
		Reasons: sorted(f.Reasons), Service: f.Service, Destination: f.Destination,
		IDs: sorted(f.IDs), Fingerprints: sorted(f.Fingerprints), MaxReplays: opts.MaxReplays,
	}
	for _, bound := range []struct {
		name string
		text string
		t    *time.Time
		rec  *string
	}{{"since", opts.Since, &f.Since, &sel.Since}, {"until", opts.Until, &f.Until, &sel.Until}} {
		switch {
		case bound.text != "":
			t, err := ParseTimeBound(bound.text, now)
			if err != nil {
				return f, sel, fmt.Errorf("dlq: replay: %s: %w", bound.name, err)
			}
			*bound.t, *bound.rec = t, bound.text
		case !bound.t.IsZero():
			*bound.rec = bound.t.UTC().Format(time.RFC3339Nano)
		}
	}
	sel.SinceTime, sel.UntilTime = f.Since, f.Until
	return f, sel, nil
}

// apply sets f's time bounds to the ones this selection stood for.
func (rf *replayFilter) apply(f *Filter) {
	f.Since, f.Until = rf.SinceTime, rf.UntilTime
}

// checkpointSource is how a checkpoint names a source: a path made
// absolute (the same folder from another working directory is the same
// source, another folder under the same relative name is not), a URL with
// its password hidden.
func checkpointSource(src string) string {
	if !strings.Contains(src, "://") {
		if abs, err := filepath.Abs(src); err == nil {
			return abs
		}
	}
	return redact.URL(src)
}

// newCheckpoint describes the replay asked for, from the beginning.
func newCheckpoint(src, target string, sel replayFilter) checkpoint {
	version := checkpointBaseVersion
	if len(sel.Fingerprints) > 0 {
		version = checkpointVersion
	}
	return checkpoint{Version: version, Source: checkpointSource(src), Target: redact.URL(target), Filter: sel}
}

// loadCheckpoint returns the progress recorded at path for the replay want
// describes: want itself when there is no file yet, the file's content when
// it belongs to the same replay (with the times of a relative since or
// until as they were when it began), and a *CheckpointError naming every
// difference when it does not.
func loadCheckpoint(path string, want checkpoint) (checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return want, nil
	}
	if err != nil {
		return checkpoint{}, fmt.Errorf("dlq: checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return checkpoint{}, fmt.Errorf("dlq: checkpoint %s: %w", path, err)
	}
	if cp.Version < checkpointBaseVersion || cp.Version > checkpointVersion {
		return checkpoint{}, &CheckpointError{Path: path, Version: cp.Version}
	}
	if diff := cp.differences(&want); len(diff) > 0 {
		return checkpoint{}, &CheckpointError{Path: path, Version: cp.Version, Differences: diff}
	}
	cp.Version = want.Version // rewritten in the form this replay needs
	return cp, nil
}

// differences lists how cp's replay differs from want's.
func (cp *checkpoint) differences(want *checkpoint) []CheckpointDifference {
	var diff []CheckpointDifference
	differ := func(field, had, asked string) {
		if had != asked {
			diff = append(diff, CheckpointDifference{Field: field, Had: had, Asked: asked})
		}
	}
	differ("source", cp.Source, want.Source)
	differ("target", cp.Target, want.Target)
	had, asked := &cp.Filter, &want.Filter
	differ("reason", strings.Join(had.Reasons, ","), strings.Join(asked.Reasons, ","))
	differ("service", had.Service, asked.Service)
	differ("destination", had.Destination, asked.Destination)
	differ("since", had.Since, asked.Since)
	differ("until", had.Until, asked.Until)
	differ("id", strings.Join(had.IDs, ","), strings.Join(asked.IDs, ","))
	differ("fingerprint", strings.Join(had.Fingerprints, ","), strings.Join(asked.Fingerprints, ","))
	differ("max_replays", fmt.Sprint(had.MaxReplays), fmt.Sprint(asked.MaxReplays))
	return diff
}

// save writes the checkpoint durably: PATH.tmp written and fsynced, renamed
// over PATH, and the folder fsynced so that the rename survives a crash.
// A kill at any moment leaves the old checkpoint or the new one.
func (cp *checkpoint) save(path string) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("dlq: checkpoint: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("dlq: checkpoint: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("dlq: checkpoint: %w", err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync() // best effort: some file systems cannot fsync a folder
		_ = dir.Close()
	}
	return nil
}
