package lossyfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// ConnsEnv names an environment variable: when it holds a folder, Mount
// records there each FUSE connection it makes (a file named after the
// connection's number, holding its mount point) and removes the record
// once the connection has ended. A program that runs tests (go run
// ./tools/mutants does) can then find and Abort the connections of a
// test binary that died with a request in flight, those of mounts a crash
// had already detached included: nothing else names them.
const ConnsEnv = "LOSSYFS_CONNS"

// fusectl is where the kernel's fusectl file system lists every FUSE
// connection by number; writing to a connection's "abort" file ends it.
const fusectl = "/sys/fs/fuse/connections"

// fusectlMagic is fusectl's file system type, as statfs reports it.
const fusectlMagic = 0x65735543

// Abort ends every FUSE connection that tests left under dir: those whose
// mount point is in dir or below, and those recorded in conns (the folder
// ConnsEnv gave the tests; "" for none) that are not mounted outside dir.
// Then it lazily unmounts (MNT_DETACH) the FUSE mounts under dir, so that
// dir can be removed.
//
// Every request in flight on an aborted connection fails, and so does every
// later one. That is what frees a test binary that was killed, or timed
// out, while one of its threads waited on its own mount: its server died
// with it, and the kernel waits for the answer uninterruptibly, so neither
// SIGKILL nor go test -timeout can end it. Abort returns the numbers of the
// connections it aborted.
func Abort(dir, conns string) ([]uint32, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	mounts, err := fuseMounts()
	if err != nil {
		return nil, err
	}
	var targets []uint32
	var points []string
	elsewhere := map[uint32]bool{}
	for _, fm := range mounts {
		if within(fm.point, dir) {
			targets = append(targets, fm.conn)
			points = append(points, fm.point)
		} else {
			elsewhere[fm.conn] = true
		}
	}
	if conns != "" {
		recorded, err := records(conns)
		if err != nil {
			return nil, err
		}
		for _, n := range recorded {
			// A number mounted outside dir was reused by someone else's
			// mount after the recorded connection ended.
			if !elsewhere[n] {
				targets = append(targets, n)
			}
		}
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	var aborted []uint32
	var errs []error
	for _, n := range targets {
		switch err := abortConn(n); {
		case err == nil:
			aborted = append(aborted, n)
		case errors.Is(err, fs.ErrNotExist): // ended already
		default:
			errs = append(errs, err)
		}
	}
	// Deepest first: a mount inside another comes off before its parent.
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("lossyfs: unmount %s: %w", p, err))
		}
	}
	return aborted, errors.Join(errs...)
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// abortConn aborts the FUSE connection numbered n through fusectl,
// mounting fusectl first if it is not. An error wrapping fs.ErrNotExist
// means the connection has ended.
func abortConn(n uint32) error {
	if err := mountFusectl(); err != nil {
		return err
	}
	p := filepath.Join(fusectl, strconv.FormatUint(uint64(n), 10), "abort")
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("lossyfs: abort FUSE connection %d: %w", n, err)
	}
	_, err = f.WriteString("1")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("lossyfs: abort FUSE connection %d: %w", n, err)
	}
	return nil
}

// mountFusectl mounts fusectl at /sys/fs/fuse/connections unless it is
// mounted there already.
func mountFusectl() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(fusectl, &st); err != nil {
		return fmt.Errorf("lossyfs: fusectl: %w", err)
	}
	if st.Type == fusectlMagic {
		return nil
	}
	err := syscall.Mount("fusectl", fusectl, "fusectl", 0, "")
	if err != nil && !errors.Is(err, syscall.EBUSY) {
		return fmt.Errorf("lossyfs: mount fusectl at %s: %w", fusectl, err)
	}
	return nil
}

// connNumber is the fusectl number of the FUSE connection whose file
// system has the device number dev (stat's st_dev): the kernel's own
// encoding of that device, major<<20 | minor.
func connNumber(dev uint64) uint32 {
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	return uint32(major<<20 | minor)
}

// fuseMount is a FUSE file system mounted in this mount namespace.
type fuseMount struct {
	conn  uint32
	point string
}

// fuseMounts lists the FUSE mounts in /proc/self/mountinfo.
func fuseMounts() ([]fuseMount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("lossyfs: %w", err)
	}
	var out []fuseMount
	for line := range strings.Lines(string(b)) {
		// ID PARENT MAJOR:MINOR ROOT POINT OPTIONS [TAGS...] - TYPE SOURCE SUPEROPTIONS
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 5 || sep+1 >= len(f) {
			continue
		}
		if typ := f[sep+1]; typ != "fuse" && !strings.HasPrefix(typ, "fuse.") {
			continue
		}
		majorS, minorS, ok := strings.Cut(f[2], ":")
		major, err1 := strconv.ParseUint(majorS, 10, 32)
		minor, err2 := strconv.ParseUint(minorS, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, fuseMount{conn: uint32(major<<20 | minor), point: unescapeMountinfo(f[4])})
	}
	return out, nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// recordSeq tells apart this process's records of one connection number:
// a number can be reused once its connection ends, before the old record
// is removed.
var recordSeq atomic.Uint64

// record writes the record of connection n mounted at point into the
// folder ConnsEnv names, and returns its path ("" when ConnsEnv is unset).
func record(n uint32, point string) (string, error) {
	dir := os.Getenv(ConnsEnv)
	if dir == "" {
		return "", nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("lossyfs: %s: %w", ConnsEnv, err)
	}
	name := fmt.Sprintf("%d.%d.%d", n, os.Getpid(), recordSeq.Add(1))
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(point+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("lossyfs: %s: %w", ConnsEnv, err)
	}
	return p, nil
}

// records lists the connection numbers recorded in dir.
func records(dir string) ([]uint32, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lossyfs: %w", err)
	}
	var out []uint32
	for _, de := range des {
		first, _, _ := strings.Cut(de.Name(), ".")
		if n, err := strconv.ParseUint(first, 10, 32); err == nil {
			out = append(out, uint32(n))
		}
	}
	return out, nil
}
