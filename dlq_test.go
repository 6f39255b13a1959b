package dlq

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPackageLevelDefault(t *testing.T) {
	t.Cleanup(func() { SetDefault(nil) })
	SetDefault(nil)
	require.ErrorIs(t, Send(Entry{Reason: "r"}), ErrNotConfigured)
	require.ErrorIs(t, Flush(context.Background()), ErrNotConfigured)

	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	SetDefault(o)
	assert.Same(t, o, Default())
	require.NoError(t, Send(Entry{Reason: "r", Payload: []byte("via default")}))
	require.NoError(t, Flush(context.Background()))
	closeOK(t, o)
	assert.Contains(t, byPayload(readDir(t, filepath.Join(dir, "svc"))), "via default")
}
