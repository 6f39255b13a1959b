package dlq

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReaderLast(t *testing.T) {
	dir, maxLine := mixedFolder(t, 6)
	for _, f := range []Filter{{}, {Reasons: []string{"timeout"}}, {IDs: []string{"id-00003", "id-00100"}}, {Reasons: []string{"none"}}} {
		all := traceRead(t, dir, ReaderOptions{Filter: f, MaxLineBytes: maxLine}, 1, 0)
		for _, n := range []int{1, 7, 150, 400, 100000} {
			last := traceRead(t, dir, ReaderOptions{Filter: f, MaxLineBytes: maxLine, Last: n}, 1, 0)
			want := all.recs[max(0, len(all.recs)-n):]
			require.Equal(t, want, last.recs, "last %d of %+v", n, f)
		}
	}
	t.Run("the newest files only, across services", func(t *testing.T) {
		// Service two's files come last; its live file holds more than 7.
		last := traceRead(t, dir, ReaderOptions{MaxLineBytes: maxLine, Last: 7}, 1, 0)
		require.Len(t, last.recs, 7)
		assert.Empty(t, last.warns, "two's cut archive is older than its live file")
		lines := countFolderLines(t, filepath.Join(dir, "two", filelog.LiveName))
		assert.LessOrEqual(t, last.final.Read+last.final.Unreadable, uint64(lines), "only two's live file is read")
	})
	t.Run("a break ends the read", func(t *testing.T) {
		last := traceRead(t, dir, ReaderOptions{MaxLineBytes: maxLine, Last: 20}, 1, 3)
		all := traceRead(t, dir, ReaderOptions{MaxLineBytes: maxLine}, 1, 0)
		assert.Equal(t, all.recs[len(all.recs)-20:len(all.recs)-17], last.recs)
	})
}

func countFolderLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	n := 0
	for _, c := range data {
		if c == '\n' {
			n++
		}
	}
	return n + 1
}

func TestReaderFollowsFromTheLastEntries(t *testing.T) {
	dir := t.TempDir()
	writeGzip(t, filepath.Join(dir, "dlq-2026-01-15T08-00-00.000.ndjson.gz"), lineFor("a", "r", 1000)+lineFor("b", "r", 2000))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dlq-2026-01-15T09-00-00.000.ndjson"), []byte(lineFor("c", "r", 3000)+lineFor("d", "r", 4000)), 0o600))
	live := filepath.Join(dir, filelog.LiveName)
	require.NoError(t, os.WriteFile(live, []byte(lineFor("e", "r", 5000)), 0o600))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []string
	caught := -1
	r, err := OpenReader(dir, ReaderOptions{Follow: true, Last: 3, PollInterval: time.Millisecond,
		CaughtUp: func() {
			caught = len(got)
			f, err := os.OpenFile(live, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString(lineFor("f", "r", 6000))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}})
	require.NoError(t, err)
	for rec, err := range r.All(ctx) {
		require.NoError(t, err)
		got = append(got, string(rec.Entry.Payload))
		if len(got) == 4 {
			break
		}
	}
	assert.Equal(t, []string{"c", "d", "e", "f"}, got)
	assert.Equal(t, 3, caught, "the last three, then what comes")
}

func TestReaderFollowsFromTheLastEntriesOfEveryService(t *testing.T) {
	root := t.TempDir()
	lives := map[string]string{}
	for i, svc := range []string{"one", "two"} {
		dir := filepath.Join(root, svc)
		require.NoError(t, os.MkdirAll(dir, 0o700))
		lives[svc] = filepath.Join(dir, filelog.LiveName)
		var b strings.Builder
		for j := range 3 {
			b.WriteString(lineFor(fmt.Sprintf("%s%d", svc, j), "r", int64(1000*i+j)))
		}
		require.NoError(t, os.WriteFile(lives[svc], []byte(b.String()), 0o600))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []string
	r, err := OpenReader(root, ReaderOptions{Follow: true, Last: 2, PollInterval: time.Millisecond,
		CaughtUp: func() {
			f, err := os.OpenFile(lives["one"], os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString(lineFor("one-new", "r", 5000))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}})
	require.NoError(t, err)
	for rec, err := range r.All(ctx) {
		require.NoError(t, err)
		got = append(got, string(rec.Entry.Payload))
		if len(got) == 3 {
			break
		}
	}
	assert.Equal(t, []string{"two1", "two2", "one-new"}, got, "service one's backlog is not read again")
}
