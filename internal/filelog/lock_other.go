//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package filelog

import (
	"errors"
	"os"
)

// errWouldBlock is never returned here.
var errWouldBlock = errors.New("dlq: lock held")

// oNoFollow is missing here (Windows): a symbolic link planted at the
// file's path is refused by Open's check alone, and followed after it.
const oNoFollow = 0

// ownerOf knows no owners here.
func ownerOf(os.FileInfo) (uid int, ok bool) { return 0, false }

// tryLock does nothing where flock is missing: one writer per folder is then
// the user's to ensure.
func tryLock(*os.File) error { return nil }
