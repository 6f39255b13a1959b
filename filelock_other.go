//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package dlq

import (
	"errors"
	"os"
)

// errWouldBlock is never returned here.
var errWouldBlock = errors.New("dlq: lock held")

// tryLock does nothing where flock is missing: one writer per folder is then
// the user's to ensure.
func tryLock(*os.File) error { return nil }
