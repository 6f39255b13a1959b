package filelog

import (
	"errors"
	"fmt"
	"os"
)

// ErrLocked is matched by the error Open returns when another writer holds
// the folder's lock: a *LockedError.
var ErrLocked = errors.New("file folder locked by another writer")

// LockedError says which writer holds a log's folder.
type LockedError struct {
	Dir    string // the folder
	Owner  string // Options.Owner of the log that asked
	Holder int    // the holder's pid, 0 when unknown
}

func (e *LockedError) Error() string {
	who := "another process (pid unknown)"
	switch e.Holder {
	case 0:
	case os.Getpid():
		who = fmt.Sprintf("this process (pid %d): another Orchestrator with service %q is open", e.Holder, e.Owner)
	default:
		who = fmt.Sprintf("pid %d", e.Holder)
	}
	return fmt.Sprintf("%s is held by %s; each instance needs a folder of its own: "+
		"set file.dir per instance, e.g. dir: /var/dlq/${HOSTNAME}", e.Dir, who)
}

// Is makes a *LockedError match ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ErrLink is matched by the error for a symbolic link found where the log
// keeps a file of its own (dlq.ndjson, .lock): Open refuses it, and one
// planted under a running log is removed, its target untouched.
var ErrLink = errors.New("is a symbolic link, which the file backend never follows (planted by someone who can write the folder?): remove it")

// TooLargeError is a line's error in Write when the line, with its
// newline, is larger than Options.MaxBytes.
type TooLargeError struct {
	Size, Limit int64 // bytes
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("a %d-byte line exceeds the %d-byte file size limit", e.Size, e.Limit)
}
