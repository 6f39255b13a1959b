package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dlqkit/dlq/internal/lossyfs"
	"github.com/dlqkit/dlq/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A go test whose test binary dies with writes in flight on its own lossyfs
// mounts (lossyfs's TestHelperProcess in its "killed" mode) never ends by
// itself: the runner must end it at its deadline, abort both FUSE
// connections, the detached one included, and go on with a verdict.
func TestRunEndsATestBinaryWedgedOnItsOwnMount(t *testing.T) {
	if why := lossyfs.Available(); why != "" {
		testenv.SkipOrFail(t, why)
	}
	root, err := moduleRoot()
	require.NoError(t, err)
	r, err := newRunner(root, 20*time.Second)
	require.NoError(t, err)
	defer r.close()
	// Build the helper first: the deadline below is for the test, not for
	// compiling it.
	warm := r.runTests(mutation{pkg: "./internal/lossyfs", run: "^$"})
	require.NoError(t, warm.err, warm.out)

	t.Setenv("LOSSYFS_TEST_HELPER", "killed")
	res := r.try(mutation{name: "the test binary dies with writes hung on its mounts",
		file: "internal/lossyfs/doc.go", old: "package lossyfs\n", new: "package lossyfs\n",
		pkg: "./internal/lossyfs", run: "^TestHelperProcess$", timeout: "5s"})
	assert.Equal(t, "caught", res.verdict, res.out)
	assert.True(t, res.hung, "ended at its deadline")
	assert.Len(t, res.aborted, 2, "the mount and the one a crash detached")
	assert.False(t, res.wedged, res.note())
	assert.NoError(t, res.endErr)
	assert.Contains(t, res.out, "killing the test binary", "the helper got as far as wedging")
	assert.Contains(t, res.note(), "hung: ended at its deadline")
}
