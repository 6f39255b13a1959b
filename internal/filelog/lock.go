package filelog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// maxLockTries bounds the attempts at flocking the .lock linked at its
// path: each one that finds the file replaced under it tries again.
const maxLockTries = 10

// folderLock makes its holder the one writer of a service folder. It
// flocks the folder's own descriptor, which no rm of a file inside can
// undo, and the .lock file in it, which holds the pid for humans. Where a folder cannot be flocked (NFS),
// the .lock file's flock alone remains.
type folderLock struct {
	dir  *os.File // the folder, flocked; nil where that is unsupported
	file *os.File // <dir>/.lock, flocked, with the holder's pid in it
	name string
}

// lockDir takes the exclusive lock on dir, which makes its holder the one
// writer of the folder, and writes the holder's pid into .lock. The lock
// ends when it is closed or the process dies. When another holds it, the
// error is a *LockedError naming the holder's pid.
func lockDir(dir, owner string) (*folderLock, error) {
	name := filepath.Join(dir, LockName)
	if err := trustedFolder(dir); err != nil {
		return nil, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := tryLock(d); err != nil {
		_ = d.Close()
		d = nil
		if errors.Is(err, errWouldBlock) {
			return nil, &LockedError{Dir: dir, Owner: owner, Holder: pidAt(name)}
		}
		// The file system cannot flock a folder: the .lock file's flock
		// alone guards it.
	}
	lock, err := lockFile(name)
	if err != nil {
		if d != nil {
			_ = d.Close()
		}
		if errors.Is(err, errWouldBlock) {
			return nil, &LockedError{Dir: dir, Owner: owner, Holder: pidAt(name)}
		}
		return nil, err
	}
	l := &folderLock{dir: d, file: lock, name: name}
	l.writePid()
	return l, nil
}

// trustedFolder refuses a service folder that is a symbolic link owned by
// another user than this process's or root: one planted in a shared
// file.dir before the first start would send the entries wherever its
// owner chose. A link an administrator made (root) or the service's own
// user made is followed, as is file.dir itself, whoever made it: the
// service folder's own files are never followed (openFile, lockFile).
// This checks the folder when the writer starts, not on every open: who
// can rename entries of file.dir can still swap the folder later, so give
// file.dir to the service's user alone.
func trustedFolder(dir string) error {
	info, err := os.Lstat(dir)
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		return nil // os.Open reports what is wrong
	}
	uid, ok := ownerOf(info)
	if !ok || uid == 0 || uid == os.Geteuid() {
		return nil
	}
	target, _ := os.Readlink(dir)
	return fmt.Errorf("dlq: %s (to %q) is a symbolic link owned by uid %d, neither this process's user (%d) nor root: "+
		"the file backend does not follow it (planted by someone who can write %s?): remove it",
		dir, target, uid, os.Geteuid(), filepath.Dir(dir))
}

// lockFile flocks the file at name, creating it, and makes sure the locked
// file is still the one linked there: a lock on a file that was removed or
// replaced meanwhile guards nothing.
func lockFile(name string) (*os.File, error) {
	for range maxLockTries {
		lock, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|oNoFollow, 0o600)
		if err != nil {
			return nil, linkError(name, err)
		}
		if err := regularFile(lock); err != nil {
			_ = lock.Close()
			return nil, err
		}
		if err := tryLock(lock); err != nil {
			_ = lock.Close()
			if errors.Is(err, errWouldBlock) {
				return nil, err
			}
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if linkedAt(lock, name) {
			return lock, nil
		}
		_ = lock.Close()
	}
	return nil, fmt.Errorf("lock %s: the file is replaced again and again", name)
}

// linkedAt reports whether name is the file file has open.
func linkedAt(file *os.File, name string) bool {
	at, err := os.Stat(name)
	if err != nil {
		return false
	}
	own, err := file.Stat()
	return err == nil && os.SameFile(at, own)
}

// writePid writes this process's pid into the lock file: it only informs
// a second writer, so a failure is ignored.
func (l *folderLock) writePid() {
	pid := strconv.Itoa(os.Getpid()) + "\n"
	if err := l.file.Truncate(0); err == nil {
		_, _ = l.file.WriteAt([]byte(pid), 0)
	}
}

// restore puts a .lock file holding the pid back when one was removed
// under the holder, which the folder's own flock keeps the one writer. It
// does nothing where the folder is not flocked: there, a new .lock could
// be another writer's. It returns an error only for a file it could not
// make.
func (l *folderLock) restore() error {
	if l.dir == nil {
		return nil
	}
	if _, err := os.Lstat(l.name); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	lock, err := lockFile(l.name)
	if err != nil {
		return err
	}
	_ = l.file.Close()
	l.file = lock
	l.writePid()
	return nil
}

// Close releases the lock.
func (l *folderLock) Close() error {
	err := l.file.Close()
	if l.dir != nil {
		err = errors.Join(err, l.dir.Close())
	}
	return err
}

// pidAt returns the pid written in the lock file at name, 0 when none is
// (or name is not a regular file: a FIFO would block the read).
func pidAt(name string) int {
	info, err := os.Lstat(name)
	if err != nil || !info.Mode().IsRegular() || info.Size() > 32 {
		return 0
	}
	data, err := os.ReadFile(name)
	if err != nil || len(data) > 32 {
		return 0
	}
	pid, _ := strconv.Atoi(string(bytes.TrimSpace(data)))
	return pid
}

// LockFile takes the exclusive lock on the file at name, creating it, and
// writes this process's pid into it for whoever finds it taken; closing
// the file (or the process's end) releases it. When another holds it,
// the error is a *LockedError whose Dir is name and Holder that pid.
// Where flock is missing, it locks nothing.
func LockFile(name string) (*os.File, error) {
	f, err := lockFile(name)
	if errors.Is(err, errWouldBlock) {
		return nil, &LockedError{Dir: name, Holder: pidAt(name)}
	}
	if err != nil {
		return nil, err
	}
	(&folderLock{file: f}).writePid()
	return f, nil
}
