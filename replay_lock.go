package dlq

import (
	"errors"
	"fmt"
	"os"

	"github.com/dlqkit/dlq/internal/filelog"
)

// lockReplay takes the locks of the files a replay writes, its checkpoint
// and its ledger (PATH.lock beside each, flocked, with the holder's pid),
// and returns what releases them. Two replays on one of them would each
// send what the other sends (OnlyPending reads the ledger once, when it
// begins) and race the checkpoint's rewrites: the second is refused,
// naming the first. A dry run writes neither and takes no lock.
func lockReplay(opts *ReplayOptions) (release func(), err error) {
	var held []*os.File
	release = func() {
		for _, f := range held {
			_ = f.Close()
		}
	}
	if opts.DryRun {
		return release, nil
	}
	for _, file := range []struct{ what, path string }{{"checkpoint", opts.Checkpoint}, {"ledger", opts.ledgerPath()}} {
		if file.path == "" {
			continue
		}
		f, err := filelog.LockFile(file.path + ".lock")
		if err != nil {
			release()
			var locked *filelog.LockedError
			if errors.As(err, &locked) {
				return nil, fmt.Errorf("dlq: replay: %s %s is in use by another replay (%s, lock %s): "+
					"two replays on one checkpoint or ledger would send the same entries twice; wait for it to end, then rerun",
					file.what, file.path, holderOf(locked.Holder), locked.Dir)
			}
			return nil, fmt.Errorf("dlq: replay: %s: %w", file.what, err)
		}
		held = append(held, f)
	}
	return release, nil
}

// holderOf names the process whose pid a lock file holds.
func holderOf(pid int) string {
	switch pid {
	case 0:
		return "pid unknown"
	case os.Getpid():
		return fmt.Sprintf("pid %d: this process", pid)
	}
	return fmt.Sprintf("pid %d", pid)
}
