package dlq

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// dirGone reports whether the service folder no longer exists: an
// operator or a cleanup job ran rm -rf on it under the writer.
func (f *fileBackend) dirGone() bool {
	_, err := os.Stat(f.dir)
	return errors.Is(err, fs.ErrNotExist)
}

// recreateDir makes the removed service folder again, 0700 and fsynced into
// its parent as New makes it, and takes the lock in it, so that the new
// folder too has one writer: the lock held on the removed folder guards
// nothing any more. reopen then writes the kept lines (all since the last
// confirmed sync) into the new folder's file; what a sync confirmed before
// went with the old folder.
func (f *fileBackend) recreateDir() error {
	f.log.Warn("dlq: the file backend's folder was removed under the writer; making it again",
		"dir", f.dir, "rewritten_bytes", len(f.kept))
	if err := makeDir(f.dir, f.log); err != nil {
		return fmt.Errorf("recreate %s: %w", f.dir, err)
	}
	lock, err := lockDir(f.dir, filepath.Base(f.dir))
	if err != nil {
		return fmt.Errorf("recreate %s: %w", f.dir, err)
	}
	old := f.lock
	f.lock = lock
	return old.Close()
}
