package filelog

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The names of a log's folder, written by Log and read by the dlq Reader;
// this file is the one place that knows them.
//
//   - dlq.ndjson is the live file, the one Log appends to.
//   - dlq-<UTC time>.ndjson is a file Log rotated, the time to the
//     millisecond (2006-01-02T15-04-05.000), moved on by a millisecond while
//     the name is taken, and never earlier than a millisecond after the
//     newest rotated file's (a clock that went back does not take names
//     back); .gz is added once it is compressed, and a hidden
//     .dlq-<time>.ndjson.gz.tmp holds a compression until it is whole.
//   - .lock holds the writer's pid; the writer flocks it and the folder.
//   - Every name that starts with dlq and holds .ndjson belongs to the log
//     (dlq*.ndjson*): logrotate's too (dlq.ndjson.1, dlq.ndjson-20261204,
//     each maybe .gz).
//
// Reading order: rotated files oldest first, logrotate's numbered ones
// highest number first, then the others by name (the rotated names and
// logrotate's dates sort by time), and the live file last.
const (
	// LiveName is the live file's name.
	LiveName = "dlq.ndjson"
	// LockName is the lock file's name.
	LockName = ".lock"
	// GzSuffix ends the name of a compressed file.
	GzSuffix = ".gz"
	// BackupTimeFormat is the time in a rotated file's name, in UTC.
	BackupTimeFormat = "2006-01-02T15-04-05.000"

	backupPrefix = "dlq-"
	backupSuffix = ".ndjson"
	tmpSuffix    = ".tmp"
)

// BackupName returns the name of a file rotated at t, which is in UTC
// (without .gz).
func BackupName(t time.Time) string {
	return backupPrefix + t.Format(BackupTimeFormat) + backupSuffix
}

// parseBackup reports whether name is one of Log's rotated files, plain or
// compressed; plain is its name without .gz, at the time in it.
func parseBackup(name string) (plain string, at time.Time, gz, ok bool) {
	plain, gz = strings.CutSuffix(name, GzSuffix)
	stamp, ok := strings.CutPrefix(plain, backupPrefix)
	stamp, ok2 := strings.CutSuffix(stamp, backupSuffix)
	at, err := time.Parse(BackupTimeFormat, stamp)
	return plain, at, gz, ok && ok2 && err == nil
}

// RotatedAt reports whether name (without a folder, with or without .gz)
// is one of Log's rotated files, and the time in it: when the file was
// rotated, by Options.Clock, to the millisecond or a little after (a name
// taken moves it on; after the clock went back, just after the previous
// rotated file's). Every line of the file was written before then, by
// the clock, and files rotated later have later times.
func RotatedAt(name string) (time.Time, bool) {
	_, at, _, ok := parseBackup(name)
	return at, ok
}

// tempName is where a compression of the rotated file at plain is written
// until it is whole.
func tempName(plain string) string {
	return filepath.Join(filepath.Dir(plain), "."+filepath.Base(plain)+GzSuffix+tmpSuffix)
}

// isTemp reports whether name is a compression's temporary file.
func isTemp(name string) bool {
	return strings.HasPrefix(name, "."+backupPrefix) && strings.HasSuffix(name, tmpSuffix)
}

// BelongsToLog reports whether a file named name is one of a log folder's
// files: the live one, a rotated one, or logrotate's (dlq*.ndjson*).
func BelongsToLog(name string) bool {
	return strings.HasPrefix(name, "dlq") && strings.Contains(name, ".ndjson")
}

// IsRotated reports whether name (without .gz) is one of Log's own rotated
// files, whose names sort by the time they were rotated.
func IsRotated(name string) bool { return strings.HasPrefix(name, backupPrefix) }

// OrderKey sorts a log folder's file names (without .gz) in reading order:
// logrotate's numbered files (dlq.ndjson.N) highest N first, then the
// others by name, then the live file.
func OrderKey(stem string) string {
	if stem == LiveName {
		return "2"
	}
	if n, ok := strings.CutPrefix(stem, LiveName+"."); ok {
		if k, err := strconv.ParseUint(n, 10, 32); err == nil {
			return fmt.Sprintf("0%010d", math.MaxUint32-k)
		}
	}
	return "1" + stem
}
