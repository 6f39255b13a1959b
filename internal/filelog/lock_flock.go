//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filelog

import (
	"os"
	"syscall"
)

var errWouldBlock = syscall.EWOULDBLOCK

// oNoFollow makes an open fail where the last element of the path is a
// symbolic link.
const oNoFollow = syscall.O_NOFOLLOW

// ownerOf returns the uid that owns the file info describes.
func ownerOf(info os.FileInfo) (uid int, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// tryLock takes an exclusive flock on file without waiting. flock belongs to
// the open file description: a second open of the same file, in this
// process or another, conflicts.
func tryLock(file *os.File) error {
	conn, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var lockErr error
	err = conn.Control(func(fd uintptr) {
		for {
			lockErr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if lockErr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return lockErr
}
