package lossyfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// gen is one mount of the file system; a crash kills it.
type gen struct {
	m    *FS
	dead bool // guarded by m.mu
}

// node is a loopback node that tells the durable state what changes.
// Every changing operation holds m.mu and fails with EIO once its mount
// is dead, so nothing a "dead" process does reaches the backing folder.
type node struct {
	fs.LoopbackNode
	g *gen
}

func (n *node) backing() string { return filepath.Join(n.RootData.Path, n.Path(nil)) }

// lock takes the state lock; it reports false (and unlocks) when the
// mount is dead.
func (n *node) lock() bool {
	n.g.m.mu.Lock()
	if n.g.dead {
		n.g.m.mu.Unlock()
		return false
	}
	return true
}

func (n *node) unlock() { n.g.m.mu.Unlock() }

func (n *node) st() *state { return n.g.m.st }

// trash keeps the inode at path alive, by a hard link, before an unlink or
// a rename removes its last name: a crash may need it back.
func (n *node) trash(path string) syscall.Errno {
	info, err := os.Lstat(path)
	if err != nil || info.IsDir() {
		return 0 // nothing there, or a directory: rebuilt from its entries
	}
	p := filepath.Join(n.g.m.work, "trash", strconv.FormatUint(inoOf(info), 10))
	if _, err := os.Lstat(p); err == nil {
		return 0
	}
	return fs.ToErrno(os.Link(path, p))
}

func (n *node) wrap(fh fs.FileHandle) fs.FileHandle {
	lf, ok := fh.(*fs.LoopbackFile)
	if !ok {
		return fh
	}
	fd, _ := lf.PassthroughFd()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fh
	}
	return &handle{lf: lf, g: n.g, ino: st.Ino, fd: fd}
}

var (
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeLinker         = (*node)(nil)
	_ fs.NodeSymlinker      = (*node)(nil)
	_ fs.NodeMknoder        = (*node)(nil)
	_ fs.NodeTmpfiler       = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
	_ fs.NodeSetxattrer     = (*node)(nil)
	_ fs.NodeRemovexattrer  = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeFsyncer        = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.FileReaddirenter   = (*dirHandle)(nil)
	_ fs.FileReleasedirer   = (*dirHandle)(nil)
	_ fs.FileSeekdirer      = (*dirHandle)(nil)
	_ fs.FileWriter         = (*handle)(nil)
	_ fs.FileAllocater      = (*handle)(nil)
	_ fs.FileReader         = (*handle)(nil)
	_ fs.FileReleaser       = (*handle)(nil)
	_ fs.FileWritever       = (*handle)(nil)
	_ fs.FileFlusher        = (*handle)(nil)
	_ fs.FileGetattrer      = (*handle)(nil)
	_ fs.FileSetattrer      = (*handle)(nil)
	_ fs.FileLseeker        = (*handle)(nil)
)

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if !n.lock() {
		return nil, nil, 0, syscall.EIO
	}
	defer n.unlock()
	p := filepath.Join(n.backing(), name)
	_, existed := os.Lstat(p)
	if existed == nil && flags&syscall.O_TRUNC != 0 {
		if errno := n.truncating(p, 0); errno != 0 {
			return nil, nil, 0, errno
		}
	}
	ch, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return ch, fh, fl, errno
	}
	h := n.wrap(fh)
	if hh, ok := h.(*handle); ok && existed != nil {
		n.st().newFile(hh.ino)
	}
	return ch, h, fl, 0
}

// truncating records the durable bytes beyond size of the file at path
// before a truncate.
func (n *node) truncating(path string, size int64) syscall.Errno {
	info, err := os.Lstat(path)
	if err != nil {
		return fs.ToErrno(err)
	}
	return fs.ToErrno(n.st().changing(inoOf(info), path, size, -1))
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if !n.lock() {
		return nil, 0, syscall.EIO
	}
	defer n.unlock()
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if errno := n.truncating(n.backing(), 0); errno != 0 {
			return nil, 0, errno
		}
	}
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return fh, fl, errno
	}
	return n.wrap(fh), fl, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !n.lock() {
		return nil, syscall.EIO
	}
	defer n.unlock()
	ch, errno := n.LoopbackNode.Mkdir(ctx, name, mode, out)
	if errno != 0 {
		return ch, errno
	}
	info, err := os.Lstat(filepath.Join(n.backing(), name))
	if err != nil {
		return ch, fs.ToErrno(err)
	}
	n.st().newDir(inoOf(info), info.Mode().Perm())
	return ch, 0
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if !n.lock() {
		return syscall.EIO
	}
	defer n.unlock()
	return n.LoopbackNode.Rmdir(ctx, name)
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if !n.lock() {
		return syscall.EIO
	}
	defer n.unlock()
	if errno := n.trash(filepath.Join(n.backing(), name)); errno != 0 {
		return errno
	}
	return n.LoopbackNode.Unlink(ctx, name)
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if !n.lock() {
		return syscall.EIO
	}
	defer n.unlock()
	if np, ok := newParent.(*node); ok && flags&fs.RENAME_EXCHANGE == 0 {
		if errno := n.trash(filepath.Join(np.backing(), newName)); errno != 0 {
			return errno
		}
	}
	return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !n.lock() {
		return nil, syscall.EIO
	}
	defer n.unlock()
	return n.LoopbackNode.Link(ctx, target, name, out)
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !n.lock() {
		return nil, syscall.EIO
	}
	defer n.unlock()
	return n.LoopbackNode.Symlink(ctx, target, name, out)
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

func (n *node) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.ENOTSUP
}

func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut, length, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOTSUP
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return syscall.ENOTSUP
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if !n.lock() {
		return syscall.EIO
	}
	defer n.unlock()
	if size, ok := in.GetSize(); ok {
		if errno := n.truncating(n.backing(), int64(size)); errno != 0 {
			return errno
		}
	}
	return n.LoopbackNode.Setattr(ctx, f, in, out)
}

// Fsync makes a file's data, or a directory's entries, durable.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if !n.lock() {
		return syscall.EIO
	}
	defer n.unlock()
	p := n.backing()
	info, err := os.Lstat(p)
	if err != nil {
		return fs.ToErrno(err)
	}
	if info.IsDir() {
		return fs.ToErrno(n.st().syncDir(p))
	}
	if n.st().failFsyncs > 0 {
		n.st().failFsyncs--
		n.st().failSync(inoOf(info), info.Size())
		return syscall.EIO
	}
	n.st().syncFile(inoOf(info), info.Size())
	return 0
}

// OpendirHandle returns a directory handle without an Fsyncdir of its own,
// so that an fsync of a directory reaches Fsync.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return fh, fl, errno
	}
	return &dirHandle{fh}, fl, 0
}

// dirHandle forwards the reading of a directory.
type dirHandle struct{ fh fs.FileHandle }

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.fh.(fs.FileReaddirenter).Readdirent(ctx)
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	return d.fh.(fs.FileSeekdirer).Seekdir(ctx, off)
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	d.fh.(fs.FileReleasedirer).Releasedir(ctx, flags)
}

// handle is an open file that records the durable bytes a write changes.
// It does not offer PassthroughFd: with FUSE passthrough (on for root) the
// kernel would write to the backing file without asking.
type handle struct {
	lf  *fs.LoopbackFile
	g   *gen
	ino uint64
	fd  int
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	m := h.g.m
	if m.hangWrite() {
		return 0, syscall.EIO
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.g.dead {
		return 0, syscall.EIO
	}
	// The handle may be write-only: read the old bytes through /proc.
	fdPath := "/proc/self/fd/" + strconv.Itoa(h.fd)
	if err := m.st.changing(h.ino, fdPath, off, off+int64(len(data))); err != nil {
		return 0, syscall.EIO
	}
	return h.lf.Write(ctx, data, off)
}

func (h *handle) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	return h.Write(ctx, bytes.Join(data, nil), off)
}

func (h *handle) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return h.lf.Read(ctx, buf, off)
}

func (h *handle) Release(ctx context.Context) syscall.Errno { return h.lf.Release(ctx) }
func (h *handle) Flush(ctx context.Context) syscall.Errno   { return h.lf.Flush(ctx) }

func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return h.lf.Getattr(ctx, out)
}

// Setattr is reached through node.Setattr, which records a truncate.
func (h *handle) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return h.lf.Setattr(ctx, in, out)
}

func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return h.lf.Lseek(ctx, off, whence)
}

func (h *handle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	return syscall.ENOTSUP
}
