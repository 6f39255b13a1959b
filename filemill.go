package dlq

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"compress/gzip"
)

// fileMill is the file backend's goroutine that compresses and prunes
// rotated files, after each rotation and once at start (to finish what a
// crash interrupted). A compressed file is fsynced, and renamed into place
// and its folder fsynced, before the plain file it replaces is removed: at
// every moment one of the two holds every line durably.
type fileMill struct {
	dir        string
	compress   bool
	maxAge     time.Duration
	maxBackups int
	clock      func() time.Time
	log        *slog.Logger
	wakeup     chan struct{}
	stop       chan struct{}
	done       chan struct{}
}

func newFileMill(dir string, fc *FileConfig, clock func() time.Time, log *slog.Logger) *fileMill {
	return &fileMill{
		dir:        dir,
		compress:   fc.Compress,
		maxAge:     time.Duration(fc.maxAgeDays()) * 24 * time.Hour,
		maxBackups: fc.MaxBackups,
		clock:      clock,
		log:        log,
		wakeup:     make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// wake asks for a pass over the rotated files.
func (m *fileMill) wake() {
	select {
	case m.wakeup <- struct{}{}:
	default:
	}
}

// stopAndWait ends the goroutine after the pass asked for, if any.
func (m *fileMill) stopAndWait() {
	close(m.stop)
	<-m.done
}

func (m *fileMill) run() {
	defer close(m.done)
	for {
		select {
		case <-m.wakeup:
			m.pass()
		case <-m.stop:
			select {
			case <-m.wakeup:
				m.pass()
			default:
			}
			return
		}
	}
}

// backup is one rotated file: its time, and whether it exists plain,
// compressed, or both (a crash between the two steps).
type backup struct {
	at        time.Time
	name      string // the plain name
	plain, gz bool
}

// pass removes leftovers of an interrupted compression, prunes rotated
// files by age and count, and compresses the rest.
func (m *fileMill) pass() {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		m.log.Warn("dlq: cannot list rotated files", "dir", m.dir, "error", err)
		return
	}
	byName := map[string]*backup{}
	var backups []*backup
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "."+backupPrefix) && strings.HasSuffix(name, tmpSuffix) {
			m.remove(filepath.Join(m.dir, name))
			continue
		}
		plainName, gz := strings.CutSuffix(name, gzSuffix)
		stamp, ok := strings.CutPrefix(plainName, backupPrefix)
		stamp, ok2 := strings.CutSuffix(stamp, backupSuffix)
		at, err := time.Parse(backupTimeFormat, stamp)
		if !ok || !ok2 || err != nil {
			continue
		}
		b := byName[plainName]
		if b == nil {
			b = &backup{at: at, name: filepath.Join(m.dir, plainName)}
			byName[plainName] = b
			backups = append(backups, b)
		}
		b.gz = b.gz || gz
		b.plain = b.plain || !gz
	}
	slices.SortFunc(backups, func(a, b *backup) int { return b.at.Compare(a.at) }) // newest first
	cutoff := m.clock().Add(-m.maxAge)
	for i, b := range backups {
		if (m.maxBackups > 0 && i >= m.maxBackups) || b.at.Before(cutoff) {
			if b.plain {
				m.remove(b.name)
			}
			if b.gz {
				m.remove(b.name + gzSuffix)
			}
			continue
		}
		if m.compress && b.plain {
			if err := m.compressFile(b.name); err != nil {
				m.log.Warn("dlq: cannot compress a rotated file; it stays plain", "file", b.name, "error", err)
			}
		}
	}
}

func (m *fileMill) remove(name string) {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("dlq: cannot remove a rotated file", "file", name, "error", err)
	}
}

// tmpSuffix ends the hidden name a compressed file has until it is whole.
const tmpSuffix = ".tmp"

// compressFile gzips plain into plain.gz through a hidden temporary file,
// fsyncs it, renames it into place, fsyncs the folder, and only then
// removes plain, fsyncing the folder once more.
func (m *fileMill) compressFile(plain string) (err error) {
	in, err := os.Open(plain)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := filepath.Join(m.dir, "."+filepath.Base(plain)+gzSuffix+tmpSuffix)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = out.Close()
			_ = os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		return fmt.Errorf("gzip %s: %w", plain, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip %s: %w", plain, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, plain+gzSuffix); err != nil {
		return err
	}
	if err := syncDir(m.dir); err != nil {
		return err
	}
	if err := os.Remove(plain); err != nil {
		return err
	}
	// Make the removal durable too: after a power loss, a plain file next
	// to its .gz would be read twice.
	return syncDir(m.dir)
}
