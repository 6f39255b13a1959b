package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingConsumer is a real HTTP server standing for a consumer that
// still fails on every message: it dead-letters each through a real
// Orchestrator into dir/consumer, the request's dlq.* headers copied into
// the entry as the adapters copy a record's. It counts each message by
// the id it replays.
func failingConsumer(t *testing.T, dir string) (url string, received func() map[string]int) {
	t.Helper()
	o, err := dlq.New(dlq.Config{Service: "consumer", File: dlq.FileConfig{Dir: dir}, FlushIntervalMS: 5})
	require.NoError(t, err)
	var (
		mu  sync.Mutex
		got = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.Header.Get(dlq.HeaderReplayOf)]++
		mu.Unlock()
		var headers []dlq.Header
		for k, vs := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "dlq.") {
				headers = append(headers, dlq.Header{Key: k, Value: []byte(vs[0])})
			}
		}
		if err := o.Send(dlq.Entry{Reason: "schema_mismatch", Error: fmt.Sprintf("field amount of %q: want number", body),
			Payload: body, Headers: headers}); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(func() {
		srv.Close()
		// t.Context() has ended when cleanups run: Close gets its own.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, o.Close(ctx))
	})
	return srv.URL + "/consume", func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(got)
	}
}

// A 10,000-entry redrive into a consumer that still fails stops after the
// canary, says what came back, and fails.
func TestReplayCanaryStopsCommand(t *testing.T) {
	dir := t.TempDir()
	o, err := dlq.New(dlq.Config{Service: "orders", File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i := range 10_000 {
		require.NoError(t, o.Send(dlq.Entry{Reason: "schema_mismatch", Error: "field amount: want number",
			Payload: fmt.Appendf(nil, "order-%05d", i), ID: fmt.Sprintf("%05d", i)}))
	}
	require.NoError(t, o.Close(t.Context()))
	url, received := failingConsumer(t, dir)

	out, err := run(t, "replay", filepath.Join(dir, "orders"), "--to", url,
		"--canary", "200", "--abort-above", "5%", "--watch", filepath.Join(dir, "consumer"))
	t.Log(out, err)
	require.ErrorIs(t, err, dlq.ErrReplayAborted, "a non-zero exit")
	assert.Contains(t, errorLine(err), "of the 200 entries of the canary came back to the DLQ")
	// It stops as soon as more than 5% of the canary came back, which may
	// be before all 200 went out: never more than the canary.
	sent := regexp.MustCompile(`replayed (\d+) to `).FindStringSubmatch(out)
	require.NotNil(t, sent, "the summary line: %s", out)
	n, _ := strconv.Atoi(sent[1])
	assert.LessOrEqual(t, n, 200, "the canary, and nothing after it")
	assert.Contains(t, out, "replayed "+sent[1]+" to "+url)
	assert.Contains(t, out, "aborted: ")
	assert.Contains(t, out, "of the 200 of the canary came back to the DLQ, above 5%")
	assert.Regexp(t, `reason +\d+  schema_mismatch\n`, out)
	assert.Regexp(t, `fingerprint +\d+  field amount of <str>: want number\n`, out)
	got := received()
	assert.Len(t, got, n, "at most the canary plus one window went back: what was sent of the canary")
	for id, k := range got {
		assert.Equal(t, 1, k, "entry %s", id)
		assert.Less(t, id, fmt.Sprintf("%05d", n), "the first entries, in order")
	}
}

func TestReplayCanaryFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	for _, args := range [][]string{
		{"--abort-above", "abc"}, {"--abort-above", "0"}, {"--abort-above", "150%"}, {"--abort-above", "-5%"},
		{"--canary", "-1"}, {"--canary-wait", "0s"},
	} {
		_, err := run(t, append([]string{"replay", dir, "--to", "http://127.0.0.1:1/x", "--canary", "10"}, args...)...)
		require.ErrorIs(t, err, errUsage, "%v", args)
		// The flag at fault named, with its value, and only it.
		assert.Contains(t, err.Error(), args[0]+" ", "%v", args)
		assert.Contains(t, err.Error(), strings.TrimSuffix(args[1], "s"), "%v", args)
		for _, other := range []string{"--abort-above", "--canary ", "--canary-wait"} {
			if other != args[0] && other != args[0]+" " {
				assert.NotContains(t, err.Error(), other, "%v", args)
			}
		}
	}
}

func TestShareOf(t *testing.T) {
	for in, want := range map[string]float64{"5%": 0.05, "0.05": 0.05, " 12.5 % ": 0.125, "100%": 1, "1": 1} {
		got, err := shareOf(in)
		require.NoError(t, err, in)
		assert.InDelta(t, want, got, 1e-12, in)
	}
}
