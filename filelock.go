package dlq

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// lockName is the file in the service folder whose flock marks its writer.
const lockName = ".lock"

// lockDir takes the exclusive lock on dir, which makes its holder the one
// writer of the folder, and writes the holder's pid into the lock file. The
// lock ends when the file is closed or the process dies. When another
// holds it, the error matches ErrLocked and names the holder's pid.
func lockDir(dir, service string) (*os.File, error) {
	name := filepath.Join(dir, lockName)
	lock, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := tryLock(lock); err != nil {
		holder := readPid(lock)
		_ = lock.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, lockedError(dir, service, holder)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	if err := lock.Truncate(0); err == nil {
		_, _ = lock.WriteAt([]byte(pid), 0) // the pid only informs a second writer
	}
	return lock, nil
}

// readPid returns the pid written in the lock file, 0 when none is.
func readPid(lock *os.File) int {
	buf := make([]byte, 32)
	n, _ := lock.ReadAt(buf, 0)
	pid, _ := strconv.Atoi(string(bytes.TrimSpace(buf[:n])))
	return pid
}

func lockedError(dir, service string, holder int) error {
	who := "another process (pid unknown)"
	switch holder {
	case 0:
	case os.Getpid():
		who = fmt.Sprintf("this process (pid %d): another Orchestrator with service %q is open", holder, service)
	default:
		who = fmt.Sprintf("pid %d", holder)
	}
	return fmt.Errorf("%w: %s is held by %s; each instance needs a folder of its own: "+
		"set file.dir per instance, e.g. dir: /var/dlq/${HOSTNAME}", ErrLocked, dir, who)
}
