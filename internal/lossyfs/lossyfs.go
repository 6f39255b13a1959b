package lossyfs

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is a mounted lossy file system. Its methods are for the test
// goroutine; the file system itself serves any number of goroutines.
type FS struct {
	t       testing.TB
	backing string // the folder the mount passes through to
	work    string // beside backing: unlinked inodes kept for a crash
	mnt     string

	mu sync.Mutex // guards st and the current gen's dead flag
	st *state
	g  *gen

	cmu      sync.Mutex // guards conns, aborted and ended
	conns    []*conn    // every mount's connection, to abort or wait for
	aborted  bool       // the connections were aborted: abort new ones too
	ended    bool       // the test is over: the watchdog must not fire
	watchdog *time.Timer

	hang   atomic.Bool   // HangWrites
	hung   chan struct{} // a value per write that HangWrites blocked
	unhang chan struct{} // closed to free the writes HangWrites blocked
	freed  sync.Once
}

// Available reports why lossyfs cannot mount here, or "" when it can.
func Available() string {
	if os.Geteuid() != 0 {
		return "lossyfs mounts FUSE directly and needs root"
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return "lossyfs needs /dev/fuse: " + err.Error()
	}
	f.Close()
	return ""
}

// Mount mounts a lossy file system over backing (a new temporary folder
// when empty) and unmounts it when the test ends. Without root or
// /dev/fuse it skips the test, saying why, except under CI=true, where it
// fails it: in CI nothing is skipped. Shortly before the test's deadline
// (-timeout), a watchdog aborts the mount's FUSE connections and fails the
// test (see the package doc).
func Mount(t testing.TB, backing string) *FS {
	t.Helper()
	if why := Available(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: power-loss tests must run)", why)
		}
		t.Skipf("%s; run as root to test power loss", why)
	}
	if backing == "" {
		backing = t.TempDir()
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		t.Fatal(err)
	}
	m := &FS{t: t, backing: backing, work: backing + ".lossyfs", mnt: t.TempDir(),
		hung: make(chan struct{}, 100), unhang: make(chan struct{})}
	if err := m.reset(); err != nil {
		t.Fatalf("lossyfs: %v", err)
	}
	if err := m.mount(); err != nil {
		t.Fatalf("lossyfs: mount: %v", err)
	}
	t.Cleanup(m.unmount)
	m.watch()
	return m
}

// Dir returns the mount point: the folder to use in place of backing.
func (m *FS) Dir() string { return m.mnt }

// Backing returns the folder the mount passes through to.
func (m *FS) Backing() string { return m.backing }

// Crash cuts the power and brings it back: PowerOff, then PowerOn.
func (m *FS) Crash() {
	m.t.Helper()
	m.PowerOff()
	m.PowerOn()
}

// CrashTorn is Crash with PowerOffTorn.
func (m *FS) CrashTorn() {
	m.t.Helper()
	m.PowerOffTorn()
	m.PowerOn()
}

// PowerOff cuts the power: every later operation through the current
// mount (files the code under test still holds open included) fails with
// EIO, and everything not made durable by an fsync is dropped from the
// backing folder. Until PowerOn, Dir is an empty folder of no file system
// under test: a process that "died" with the power can be stopped then
// (its Close may still try to write) without touching what survived.
func (m *FS) PowerOff() {
	m.t.Helper()
	m.powerOff(false)
}

// PowerOffTorn is PowerOff, except that every file surviving the cut keeps
// the first half (at least a byte) of what was appended to it since its
// last fsync: a power cut that let some pages reach the disk leaves a torn
// tail, usually a line cut in the middle.
func (m *FS) PowerOffTorn() {
	m.t.Helper()
	m.powerOff(true)
}

func (m *FS) powerOff(torn bool) {
	m.t.Helper()
	m.kill()
	if err := syscall.Unmount(m.mnt, syscall.MNT_DETACH); err != nil {
		m.t.Fatalf("lossyfs: unmount %s: %v", m.mnt, err)
	}
	m.mu.Lock()
	err := m.st.rewind(m.backing, m.work, torn)
	m.mu.Unlock()
	if err != nil {
		m.t.Fatalf("lossyfs: rewind to the durable state: %v", err)
	}
}

// PowerOn brings a fresh mount of what survived up at Dir. Whatever a dead
// process wrote into Dir while the power was off is cleared away first.
func (m *FS) PowerOn() {
	m.t.Helper()
	des, err := os.ReadDir(m.mnt)
	if err != nil {
		m.t.Fatalf("lossyfs: %v", err)
	}
	for _, de := range des {
		if err := os.RemoveAll(filepath.Join(m.mnt, de.Name())); err != nil {
			m.t.Fatalf("lossyfs: %v", err)
		}
	}
	if err := m.reset(); err != nil {
		m.t.Fatalf("lossyfs: %v", err)
	}
	if err := m.mount(); err != nil {
		m.t.Fatalf("lossyfs: remount: %v", err)
	}
}

// FailFsyncs makes the next n fsyncs of files fail with EIO, as a disk
// error does. Like Linux after a writeback error, what such an fsync was to
// make durable is lost for good: after a crash those bytes read as zeros,
// even if a later fsync succeeded, unless they were written again.
func (m *FS) FailFsyncs(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.failFsyncs = n
}

// kill marks the current mount dead: once it returns, no operation through
// that mount changes the backing folder.
func (m *FS) kill() {
	m.mu.Lock()
	m.g.dead = true
	m.mu.Unlock()
}

// reset takes the backing folder as it is as durable.
func (m *FS) reset() error {
	if err := os.RemoveAll(m.work); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(m.work, "trash"), 0o700); err != nil {
		return err
	}
	st, err := snapshot(m.backing)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.st = st
	m.mu.Unlock()
	return nil
}

func (m *FS) mount() error {
	var st syscall.Stat_t
	if err := syscall.Stat(m.backing, &st); err != nil {
		return err
	}
	g := &gen{m: m}
	root := &fs.LoopbackRoot{Path: m.backing, Dev: st.Dev}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, g: g}
	}
	rootNode := &node{LoopbackNode: fs.LoopbackNode{RootData: root}, g: g}
	root.RootNode = rootNode
	server, err := fs.Mount(m.mnt, rootNode, &fs.Options{
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            "lossyfs",
			Name:              "lossyfs",
			DisableXAttrs:     true,
		},
	})
	if err != nil {
		return err
	}
	c, err := newConn(server, m.mnt)
	if err != nil {
		_ = server.Unmount()
		return err
	}
	m.mu.Lock()
	m.g = g
	m.mu.Unlock()
	m.cmu.Lock()
	m.conns = append(m.conns, c)
	aborted := m.aborted
	m.cmu.Unlock()
	if aborted {
		// The watchdog has fired: this mount may not hang either.
		if err := abortConn(c.n); err != nil {
			return err
		}
	}
	return nil
}

// serveAfterTest is how long a mount may serve after its test has ended.
const serveAfterTest = 10 * time.Second

// unmount ends the last mount and waits for every mount's server: a
// server ends once no file under its mount is open, or once its
// connection is aborted, serveAfterTest after the test.
func (m *FS) unmount() {
	m.cmu.Lock()
	m.ended = true
	m.cmu.Unlock()
	if m.watchdog != nil {
		m.watchdog.Stop()
	}
	m.freeWrites()
	m.kill()
	if err := syscall.Unmount(m.mnt, 0); err != nil {
		if err := syscall.Unmount(m.mnt, syscall.MNT_DETACH); err != nil {
			m.t.Errorf("lossyfs: unmount %s: %v", m.mnt, err)
		}
	}
	m.cmu.Lock()
	conns := m.conns
	m.cmu.Unlock()
	wait := time.NewTimer(serveAfterTest)
	defer wait.Stop()
	for _, c := range conns {
		select {
		case <-c.done:
			continue
		case <-wait.C:
		}
		// A file under it is still open, by something the test leaked. A
		// request in flight on it when the test binary exits would never be
		// answered, and would wedge the binary: abort the connection.
		m.t.Errorf("lossyfs: a mount at %s still serves %s after the test: a file under it is still open; aborting FUSE connection %d", m.mnt, serveAfterTest, c.n)
		if err := abortConn(c.n); err != nil {
			m.t.Errorf("%v", err)
			continue
		}
		<-c.done
		wait.Reset(0)
	}
	if err := os.RemoveAll(m.work); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.t.Errorf("lossyfs: %v", err)
	}
}
