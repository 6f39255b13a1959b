// Package testenv gives dlq's tests the real parts they need: a small
// tmpfs that fills up, and the rule for skipping when a part is absent.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where nothing may be
// skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test with msg, or fails it under CI=true.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true, so this cannot be skipped: %s", msg)
	}
	t.Skip(msg)
}

// Tmpfs is a small tmpfs mounted on a test's temporary folder, so that a
// test can fill a real file system and then give it room again.
type Tmpfs struct {
	// Dir is the mount point.
	Dir string
	t   testing.TB
}

// MountTmpfs mounts a tmpfs of sizeBytes on a new temporary folder and
// unmounts it when the test ends. It needs root (mount(8)).
func MountTmpfs(t testing.TB, sizeBytes int) *Tmpfs {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "mounting a tmpfs to fill up needs root; run the tests as root")
	}
	dir := t.TempDir()
	run(t, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", sizeBytes), "tmpfs", dir)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return &Tmpfs{Dir: dir, t: t}
}

// Resize changes the tmpfs's size: larger gives a full one room again.
func (fs *Tmpfs) Resize(sizeBytes int) {
	fs.t.Helper()
	run(fs.t, "mount", "-o", fmt.Sprintf("remount,size=%d", sizeBytes), fs.Dir)
}

// Fill writes a ballast file until the tmpfs has no room left, and returns
// a function that removes it.
func (fs *Tmpfs) Fill() (free func()) {
	fs.t.Helper()
	path := fs.Dir + "/ballast"
	f, err := os.Create(path)
	if err != nil {
		fs.t.Fatalf("create ballast: %v", err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	for { // fill the last partial block too
		if _, err := f.Write(chunk[:1]); err != nil {
			break
		}
	}
	_ = f.Close()
	return func() {
		if err := os.Remove(path); err != nil {
			fs.t.Fatalf("remove ballast: %v", err)
		}
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}
