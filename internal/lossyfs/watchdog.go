package lossyfs

import (
	"os"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// A test binary serves its lossy file systems itself. If it dies, or its
// -timeout ends it, while one of its threads waits on its own mount, the
// kernel waits for an answer the dead server can never give, and the
// process stays a zombie that nothing but an abort of the connection
// ends. Each mount therefore knows its connection's number, and before
// the test's deadline a watchdog aborts them all.

// conn is the FUSE connection of one mount.
type conn struct {
	n      uint32 // its number under /sys/fs/fuse/connections
	record string // its record in the folder ConnsEnv names, or ""
	done   chan struct{}
}

// newConn notes the connection of the mount at mnt that server serves,
// records it (see ConnsEnv) and removes the record when the server ends.
func newConn(server *fuse.Server, mnt string) (*conn, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		return nil, err
	}
	c := &conn{n: connNumber(st.Dev), done: make(chan struct{})}
	p, err := record(c.n, mnt)
	if err != nil {
		return nil, err
	}
	c.record = p
	go func() {
		server.Wait()
		if c.record != "" {
			_ = os.Remove(c.record)
		}
		close(c.done)
	}()
	return c, nil
}

// abortMargin is how long before the test's deadline the watchdog aborts
// the mount's connections: a tenth of the time left at the mount, from 2 s
// to 10 s, so that the test can still fail by itself before -timeout
// panics.
func abortMargin(left time.Duration) time.Duration {
	return min(max(left/10, 2*time.Second), 10*time.Second)
}

// watch starts the watchdog: shortly before the deadline of the test (its
// -timeout), it aborts every connection of the mount.
func (m *FS) watch() {
	t, ok := m.t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return
	}
	deadline, ok := t.Deadline()
	if !ok {
		return
	}
	left := time.Until(deadline)
	m.watchdog = time.AfterFunc(left-abortMargin(left), func() { m.deadlineNear(deadline) })
}

func (m *FS) deadlineNear(deadline time.Time) {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	if m.ended {
		return
	}
	aborted, err := m.abortLocked()
	m.t.Errorf("lossyfs: the test's deadline (-timeout, %s) is near: aborted the FUSE connections %v of the mount at %s, so that no request on it can outlive the test binary",
		deadline.Format(time.TimeOnly), aborted, m.mnt)
	if err != nil {
		m.t.Errorf("%v", err)
	}
}

// abortLocked aborts every connection of the mount that has not ended,
// and frees the writes HangWrites blocked. It returns their numbers.
func (m *FS) abortLocked() ([]uint32, error) {
	m.aborted = true
	m.freeWrites()
	var aborted []uint32
	for _, c := range m.conns {
		select {
		case <-c.done:
			continue
		default:
		}
		if err := abortConn(c.n); err != nil {
			return aborted, err
		}
		aborted = append(aborted, c.n)
	}
	return aborted, nil
}

// HangWrites makes every later write through the mount block, as on a
// wedged disk, until the mount's connections are aborted (by the deadline
// watchdog, or by Abort from another process) or the test ends; the write
// then fails. The channel it returns gets a value for each write that
// blocks (the first 100). It is for tests of the abort path.
func (m *FS) HangWrites() <-chan struct{} {
	m.hang.Store(true)
	return m.hung
}

// hangWrite blocks a write while HangWrites is on; it reports whether it
// did, in which case the write must fail.
func (m *FS) hangWrite() bool {
	if !m.hang.Load() {
		return false
	}
	select {
	case m.hung <- struct{}{}:
	default:
	}
	<-m.unhang
	return true
}

// freeWrites ends the writes HangWrites blocked, and makes new ones pass.
func (m *FS) freeWrites() {
	m.freed.Do(func() {
		m.hang.Store(false)
		close(m.unhang)
	})
}
