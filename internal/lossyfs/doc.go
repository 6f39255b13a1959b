// Package lossyfs is a power-loss harness for tests: a FUSE file system that
// passes every operation through to a backing folder but remembers what has
// not been made durable, and on a simulated crash drops exactly that, the
// way LazyFS is used to find durability bugs in databases.
//
// The model is strict POSIX:
//
//   - fsync (or fdatasync) of a file makes its data and size durable: after
//     a crash a file holds what it held at its last fsync, whatever was
//     written, overwritten or truncated since;
//   - fsync of a directory makes its entries durable: the names it holds
//     and the files they point to. A create, rename, link or unlink not
//     followed by an fsync of the directory is undone by a crash; a new file
//     whose directory was never fsynced vanishes even when the file itself
//     was fsynced;
//   - everything in the backing folder when it is mounted is durable.
//
// Crash ends the mount as a power cut ends a machine: every later operation
// through the old mount fails with EIO (the process that held files open is
// "dead"), the backing folder is rewound to its durable state, and the same
// mount point comes back with a fresh mount over it.
//
// A test binary serves its mounts itself, so a request in flight when it
// dies (killed, or ended by go test -timeout) is never answered, and the
// thread that made it keeps the binary a zombie that SIGKILL cannot end.
// Shortly before a test's deadline, Mount's watchdog therefore aborts the
// mount's FUSE connections through fusectl, failing the test, and Abort
// frees a binary that died with a request in flight anyway, from another
// process (ConnsEnv tells it where to find mounts a crash had detached).
//
// Mounting needs root and /dev/fuse; MountOrSkip says so and skips
// elsewhere, except under CI=true, where it fails.
package lossyfs
