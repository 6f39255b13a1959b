package main

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

	"github.com/dlqkit/dlq"
	"github.com/urfave/cli/v3"
)

// checkpointVersion is the form of the checkpoint file this dlq writes. A
// file without it predates the target and the filters and is refused: its
// progress cannot be known to belong to this replay.
const checkpointVersion = 2

// checkpointInterval is how often a replay without --rate rewrites its
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

// checkpoint is what --checkpoint FILE holds: which replay it belongs to
// (source, target and filters) and how far the target confirmed it.
type checkpoint struct {
	Version int          `json:"version"`
	Source  string       `json:"source"`
	Target  string       `json:"target"` // its password hidden
	Filter  replayFilter `json:"filter"`
	// Position is the Record.Position of the last entry the target
	// confirmed (or that --max-replays refused after it): a rerun resumes
	// after it.
	Position string `json:"position"`
	// Replayed counts the entries the target confirmed up to Position, over
	// every run of this replay.
	Replayed uint64 `json:"replayed"`
}

// replayFilter is a replay's selection as the user gave it, with the times
// a relative --since or --until stood for when the replay began, so that a
// resumed replay selects the same entries.
type replayFilter struct {
	Reasons     []string  `json:"reason,omitempty"`
	Service     string    `json:"service,omitempty"`
	Destination string    `json:"destination,omitempty"`
	Since       string    `json:"since,omitempty"`
	SinceTime   time.Time `json:"since_time,omitzero"`
	Until       string    `json:"until,omitempty"`
	UntilTime   time.Time `json:"until_time,omitzero"`
	IDs         []string  `json:"id,omitempty"`
	MaxReplays  int       `json:"max_replays,omitempty"`
}

// replayFilterOf reads the filter flags and --max-replays; f is what they
// resolve to now.
func replayFilterOf(cmd *cli.Command, f dlq.Filter) replayFilter {
	sorted := func(s []string) []string {
		s = slices.Clone(s)
		slices.Sort(s)
		return slices.Compact(s)
	}
	return replayFilter{
		Reasons: sorted(f.Reasons), Service: f.Service, Destination: f.Destination,
		Since: cmd.String("since"), SinceTime: f.Since,
		Until: cmd.String("until"), UntilTime: f.Until,
		IDs: sorted(f.IDs), MaxReplays: int(cmd.Int("max-replays")),
	}
}

// apply sets f's time bounds to the ones this filter stood for.
func (rf *replayFilter) apply(f *dlq.Filter) {
	f.Since, f.Until = rf.SinceTime, rf.UntilTime
}

// checkpointSource is how a checkpoint names a source: a path made absolute (the
// same folder from another working directory is the same source, another
// folder under the same relative name is not), a URL with its password
// hidden.
func checkpointSource(src string) string {
	if !strings.Contains(src, "://") {
		if abs, err := filepath.Abs(src); err == nil {
			return abs
		}
	}
	return redacted(src)
}

// newCheckpoint describes the replay the command line asks for, from the
// beginning.
func newCheckpoint(src, to string, filter replayFilter) checkpoint {
	return checkpoint{Version: checkpointVersion, Source: checkpointSource(src), Target: redacted(to), Filter: filter}
}

// loadCheckpoint returns the progress recorded at path for the replay want
// describes: want itself when there is no file yet, the file's content when
// it belongs to the same replay (with the times of a relative --since or
// --until as they were when it began), and an error naming every
// difference when it does not.
func loadCheckpoint(path string, want checkpoint) (checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return want, nil
	}
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if cp.Version > checkpointVersion {
		return checkpoint{}, fmt.Errorf("checkpoint %s is of version %d, written by a newer dlq than this one (which reads version %d): use that dlq, or remove it to replay from the start", path, cp.Version, checkpointVersion)
	}
	if cp.Version != checkpointVersion {
		return checkpoint{}, fmt.Errorf("checkpoint %s does not record the target and filters of its replay (written by an older dlq): remove it to replay from the start", path)
	}
	if diff := cp.differences(&want); len(diff) > 0 {
		return checkpoint{}, fmt.Errorf("checkpoint %s belongs to another replay: %s; rerun that replay with the same source, --to and filters, or give a new --checkpoint FILE",
			path, strings.Join(diff, "; "))
	}
	return cp, nil
}

// differences lists how cp's replay differs from want's, each as "what cp
// has, not what want has".
func (cp *checkpoint) differences(want *checkpoint) []string {
	var diff []string
	differ := func(what, had, asked string) {
		if had != asked {
			diff = append(diff, fmt.Sprintf("%s %q, not %q", what, had, asked))
		}
	}
	differ("source", cp.Source, want.Source)
	differ("--to", cp.Target, want.Target)
	had, asked := &cp.Filter, &want.Filter
	differ("--reason", strings.Join(had.Reasons, ","), strings.Join(asked.Reasons, ","))
	differ("--service", had.Service, asked.Service)
	differ("--destination", had.Destination, asked.Destination)
	differ("--since", had.Since, asked.Since)
	differ("--until", had.Until, asked.Until)
	differ("--id", strings.Join(had.IDs, ","), strings.Join(asked.IDs, ","))
	differ("--max-replays", fmt.Sprint(had.MaxReplays), fmt.Sprint(asked.MaxReplays))
	return diff
}

// save writes the checkpoint durably: PATH.tmp written and fsynced, renamed
// over PATH, and the folder fsynced so that the rename survives a crash.
// A kill at any moment leaves the old checkpoint or the new one.
func (cp *checkpoint) save(path string) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
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
		return fmt.Errorf("checkpoint: %w", err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync() // best effort: some file systems cannot fsync a folder
		_ = dir.Close()
	}
	return nil
}
