package filelog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Period is when a Log starts a new file besides its size limit.
type Period int

// The periods.
const (
	PeriodNone   Period = iota // by size alone
	PeriodHourly               // at each UTC hour
	PeriodDaily                // at each UTC midnight
)

// periodOf returns the start of the hour or day t belongs to, in UTC; the
// zero time when rotation is not by time.
func (l *Log) periodOf(t time.Time) time.Time {
	switch l.period {
	case PeriodHourly:
		return t.UTC().Truncate(time.Hour)
	case PeriodDaily:
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	default:
		return time.Time{}
	}
}

// rotate makes the current file durable, renames it aside and starts a new
// one. The mill then compresses and prunes the rotated files.
func (l *Log) rotate() error {
	l.current = l.periodOf(l.clock())
	if l.size == 0 {
		return nil // nothing to move aside
	}
	if err := l.syncLocked(); err != nil {
		return err
	}
	backup, err := l.backupName()
	if err != nil {
		return err
	}
	l.mill.rotating(backup)
	if err := os.Rename(l.path, backup); err != nil {
		l.mill.unrotated(backup)
		return fmt.Errorf("rotate %s: %w", l.path, err)
	}
	l.dirDirty = true
	l.mill.wake()
	return l.reopen()
}

// maxNameTries bounds the search for a free backup name.
const maxNameTries = 1000

// backupName returns a free path for the current file's rotation, from
// the clock's time to the millisecond (a millisecond after the newest
// rotated file's when the clock is not past it: it went back), moved on by
// a millisecond while taken (BackupName).
func (l *Log) backupName() (string, error) {
	t := l.clock().UTC().Truncate(time.Millisecond)
	if !t.After(l.lastBackup) {
		t = l.lastBackup.Add(time.Millisecond)
	}
	for range maxNameTries {
		name := filepath.Join(l.dir, BackupName(t))
		if !exists(name) && !exists(name+GzSuffix) {
			l.lastBackup = t
			return name, nil
		}
		t = t.Add(time.Millisecond)
	}
	return "", fmt.Errorf("rotate %s: no free backup name near %s", l.path, t.Format(BackupTimeFormat))
}

// exists reports whether name exists; when unsure, it says yes.
func exists(name string) bool {
	_, err := os.Lstat(name)
	return !errors.Is(err, fs.ErrNotExist)
}

// newestBackup returns the time in the name of dir's newest rotated file,
// or the zero time when it has none.
func newestBackup(dir string) (time.Time, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}, fmt.Errorf("list %s: %w", dir, err)
	}
	var newest time.Time
	for _, e := range entries {
		if at, ok := RotatedAt(e.Name()); ok && at.After(newest) {
			newest = at
		}
	}
	return newest, nil
}
