package filelog

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// makeDir creates dir and its missing parents, 0700, and fsyncs each one it
// created into its parent, so that a power loss cannot take the folder
// holding entries Flush confirmed. A folder that exists is used as it is (a
// volume mounted with a group, say, which the process may not chmod); the
// logger is warned when group or others can read it.
func makeDir(dir string, log *slog.Logger) error {
	var missing []string // dir first, then its missing parents
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	for _, d := range missing {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("make %s durable: %w", d, err)
		}
	}
	if len(missing) > 0 {
		return nil
	}
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if info.Mode().Perm()&0o044 != 0 {
		log.Warn("dlq: the file backend's folder is readable by group or others; entries hold other people's payloads",
			"dir", dir, "mode", info.Mode().String())
	}
	return nil
}

// dirGone reports whether the service folder no longer exists: an
// operator or a cleanup job ran rm -rf on it under the writer.
func (l *Log) dirGone() bool {
	_, err := os.Stat(l.dir)
	return errors.Is(err, fs.ErrNotExist)
}

// recreateDir makes the removed service folder again, 0700 and fsynced into
// its parent as Open makes it, and takes the lock in it, so that the new
// folder too has one writer: the lock held on the removed folder guards
// nothing any more. reopen then writes the kept lines (all since the last
// confirmed sync) into the new folder's file; what a sync confirmed before
// went with the old folder.
func (l *Log) recreateDir() error {
	l.log.Warn("dlq: the file backend's folder was removed under the writer; making it again",
		"dir", l.dir, "rewritten_bytes", len(l.kept))
	if err := makeDir(l.dir, l.log); err != nil {
		return fmt.Errorf("recreate %s: %w", l.dir, err)
	}
	lock, err := lockDir(l.dir, filepath.Base(l.dir))
	if err != nil {
		return fmt.Errorf("recreate %s: %w", l.dir, err)
	}
	old := l.lock
	l.lock = lock
	return old.Close()
}
