package dlq

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Rotated files are named dlq-<UTC time>.ndjson, with .gz added when
// compressed: lumberjack's names, which earlier versions wrote.
const (
	backupPrefix     = "dlq-"
	backupSuffix     = ".ndjson"
	backupTimeFormat = "2006-01-02T15-04-05.000"
	gzSuffix         = ".gz"
)

// periodOf returns the start of the hour or day t belongs to, in UTC; the
// zero time when rotation is not by time.
func (f *fileBackend) periodOf(t time.Time) time.Time {
	switch f.rotation {
	case RotateHourly:
		return t.UTC().Truncate(time.Hour)
	case RotateDaily:
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	default:
		return time.Time{}
	}
}

// rotate makes the current file durable, renames it aside and starts a new
// one. The mill then compresses and prunes the rotated files.
func (f *fileBackend) rotate() error {
	f.period = f.periodOf(f.clock())
	if f.size == 0 {
		return nil // nothing to move aside
	}
	if err := f.syncLocked(); err != nil {
		return err
	}
	backup, err := f.backupName()
	if err != nil {
		return err
	}
	f.mill.rotating(backup)
	if err := os.Rename(f.path, backup); err != nil {
		f.mill.unrotated(backup)
		return fmt.Errorf("rotate %s: %w", f.path, err)
	}
	f.dirDirty = true
	f.mill.wake()
	return f.reopen()
}

// maxNameTries bounds the search for a free backup name.
const maxNameTries = 1000

// backupName returns a free name for the current file's rotation, from the
// clock's time to the millisecond, moved on by a millisecond while taken.
func (f *fileBackend) backupName() (string, error) {
	t := f.clock().UTC()
	for range maxNameTries {
		name := filepath.Join(f.dir, backupPrefix+t.Format(backupTimeFormat)+backupSuffix)
		if !exists(name) && !exists(name+gzSuffix) {
			return name, nil
		}
		t = t.Add(time.Millisecond)
	}
	return "", fmt.Errorf("rotate %s: no free backup name near %s", f.path, t.Format(backupTimeFormat))
}

// exists reports whether name exists; when unsure, it says yes.
func exists(name string) bool {
	_, err := os.Lstat(name)
	return !errors.Is(err, fs.ErrNotExist)
}
