package dlq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
)

const megabyte = 1 << 20

// maxBytes is the size at which filelog rotates.
func (f *FileConfig) maxBytes() int64 {
	if f.Rotation == RotateNone {
		return math.MaxInt64 / 2
	}
	return int64(f.MaxSizeMB) * megabyte
}

// period is the rotation by time that filelog makes.
func (f *FileConfig) period() filelog.Period {
	switch f.Rotation {
	case RotateHourly:
		return filelog.PeriodHourly
	case RotateDaily:
		return filelog.PeriodDaily
	default:
		return filelog.PeriodNone
	}
}

// fileBackend is the file backend: the durable rotating log of
// internal/filelog in <dir>/<service>, its errors mapped to this package's.
type fileBackend struct {
	log *filelog.Log
}

func newFileBackend(cfg *Config) (*fileBackend, error) {
	fc := &cfg.File
	l, err := filelog.Open(filelog.Options{
		Dir:          filepath.Join(fc.Dir, cfg.Service),
		Owner:        cfg.Service,
		Period:       fc.period(),
		MaxBytes:     fc.maxBytes(),
		MaxAge:       time.Duration(fc.MaxAgeDays) * 24 * time.Hour,
		MaxBackups:   fc.MaxBackups,
		Compress:     fc.Compress,
		SyncInterval: ms(fc.SyncIntervalMS),
		Clock:        cfg.Clock,
		Logger:       cfg.Logger,
	})
	if err != nil {
		return nil, fileError(err)
	}
	return &fileBackend{log: l}, nil
}

// write appends the batch's lines, one error per entry not written.
func (f *fileBackend) write(_ context.Context, bt *batch) error {
	err := f.log.Write(bt.lines, bt.errs)
	for i, e := range bt.errs { // a line too large fails alone: err is nil
		if e != nil {
			bt.errs[i] = fileError(e)
		}
	}
	return fileError(err)
}

// sync makes everything written so far durable: Flush's promise.
func (f *fileBackend) sync(context.Context) error { return fileError(f.log.Sync()) }

// close makes what is unsynced durable and releases the folder.
func (f *fileBackend) close(context.Context) error { return fileError(f.log.Close()) }

// fileError maps the log's errors to this package's sentinels, keeping the
// log's text: a line too large matches ErrOversize, a folder another
// writer holds matches ErrLocked.
func fileError(err error) error {
	if err == nil {
		return nil
	}
	var tooLarge *filelog.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w: %w", ErrOversize, err)
	case errors.Is(err, filelog.ErrLocked):
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return err
}
