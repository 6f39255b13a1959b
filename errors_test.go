package dlq

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlushErrorIsOneLine: Flush's error during an outage is one line with
// the count and each distinct cause once, and still matches ErrNotWritten,
// ctx's error and the *BackendError.
func TestFlushErrorIsOneLine(t *testing.T) {
	t.Run("a full disk", func(t *testing.T) {
		disk := testenv.MountTmpfs(t, 64<<10)
		free := disk.Fill()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 16,
			Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 2}, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		sendAll(t, o, payloads(300, "o"))
		require.Eventually(t, func() bool { return o.Stats().Retried > 300 }, 10*time.Second, time.Millisecond,
			"every entry failed more than once")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err = o.Flush(ctx)
		require.Error(t, err)
		text := err.Error()
		assert.NotContains(t, text, "\n")
		assert.True(t, strings.HasPrefix(text, "dlq: flush: 300 entries not yet written (file backend: write "), text)
		assert.True(t, strings.HasSuffix(text, ": context deadline exceeded"), text)
		assert.Equal(t, 1, strings.Count(text, "no space left on device"), text)
		assert.Equal(t, 1, strings.Count(text, "dlq: "), "one prefix: %s", text)
		assert.ErrorIs(t, err, ErrNotWritten)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		var be *BackendError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, KindFile, be.Kind)
		free()
		flushOK(t, o)
		closeOK(t, o)
	})
	t.Run("with losses", func(t *testing.T) {
		cause := &BackendError{Kind: KindKafka, Entries: 7, Err: errors.New("broker down")}
		other := &BackendError{Kind: KindKafka, Entries: 1, Err: errors.New("broker down")}
		lost := lostSince(2)
		err := joinLine(notWritten(12, []error{cause, other}, context.Canceled), lost)
		assert.Equal(t, "dlq: flush: 12 entries not yet written (kafka backend: broker down): context canceled; "+
			"dlq: flush: 2 entries lost since the previous Flush (see Stats.LostBy)", err.Error())
		assert.ErrorIs(t, err, ErrNotWritten)
		assert.ErrorIs(t, err, ErrLost)
		assert.ErrorIs(t, err, context.Canceled)
		var be *BackendError
		require.ErrorAs(t, err, &be)
		assert.Same(t, cause, be)
	})
	t.Run("not synced", func(t *testing.T) {
		syncErr := &BackendError{Kind: KindFile, Err: errors.New("sync: input/output error")}
		err := notSynced(syncErr, ErrClosed)
		assert.Equal(t, "dlq: flush: entries written but not synced (file backend: sync: input/output error): dlq: closed", err.Error())
		assert.ErrorIs(t, err, ErrNotWritten)
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorAs(t, err, new(*BackendError))
	})
	t.Run("nothing to join", func(t *testing.T) {
		assert.NoError(t, joinLine(nil, nil))
		assert.Same(t, ErrLost, joinLine(nil, ErrLost))
	})
}

// TestWarningsAreRateLimited: of many failures of one kind, the first is
// logged, then one summary per interval with the count left out; another
// kind is logged on its own.
func TestWarningsAreRateLimited(t *testing.T) {
	var out bytes.Buffer
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	w := newWarner(slog.New(slog.NewTextHandler(&out, nil)), clock.Now)
	lines := func() []string { return strings.Split(strings.TrimSpace(out.String()), "\n") }

	for range 1000 {
		w.logf("failed kafka", slog.LevelWarn, "dlq: backend failed", "backend", "kafka")
		clock.Add(time.Millisecond) // 1000 failures in one second
	}
	w.logf("failed file", slog.LevelWarn, "dlq: backend failed", "backend", "file")
	assert.Len(t, lines(), 2, "the first of each kind only:\n%s", out.String())

	clock.Add(warnInterval)
	w.logf("failed kafka", slog.LevelWarn, "dlq: backend failed", "backend", "kafka")
	assert.Len(t, lines(), 3)
	assert.Contains(t, lines()[2], "suppressed=999", "the summary counts what was left out")

	w.logf("failed kafka", slog.LevelWarn, "dlq: backend failed", "backend", "kafka")
	w.summarize()
	assert.Len(t, lines(), 4)
	assert.Contains(t, lines()[3], "suppressed=1", "Close logs what is left")
}

func TestErrorsCarryOnePrefix(t *testing.T) {
	dir := t.TempDir()
	errs := map[string]error{}
	for name, cfg := range map[string]Config{
		"no service":  {},
		"bad fields":  {Service: "x", Mode: "FAN_OUT", QueueCapacity: -1, Order: []Kind{9}},
		"kafka":       {Service: "x", File: FileConfig{Dir: dir}, Kafka: KafkaConfig{Brokers: []string{"127.0.0.1:1"}, TLS: KafkaTLS{Enabled: true, CAFile: filepath.Join(dir, "none.pem")}}},
		"http":        {Service: "x", File: FileConfig{Dir: dir}, HTTP: HTTPConfig{URL: "http://127.0.0.1:1", TLS: HTTPTLS{CAFile: filepath.Join(dir, "none.pem")}}},
		"redis":       {Service: "x", File: FileConfig{Dir: dir}, Redis: RedisConfig{URL: "redis://127.0.0.1:1", Stream: "s"}, Mode: ModeFanOut},
		"file in use": {Service: "x", File: FileConfig{Dir: filepath.Join(dir, "file", "x")}},
	} {
		if name == "file in use" {
			// A file where the backend's folder must go.
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "file"), 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "file", "x"), nil, 0o600))
		}
		o, err := New(cfg)
		if err == nil {
			require.NoError(t, o.Close(t.Context()))
			continue
		}
		errs["New "+name] = err
	}
	for name, doc := range map[string]string{
		"typo":         "service: x\nqueue_capacty: 1\n",
		"syntax":       "service: [\n",
		"env":          "service: ${DLQ_NOT_SET_ANYWHERE}\n",
		"enum":         "service: x\nmode: FAN_OUT\norder: [Kafka]\n",
		"all backends": "service: x\nkafka: {brokers: [a]}\nhttp: {url: 'http://a'}\nredis: {url: 'redis://a'}\n",
	} {
		if _, err := parseConfig([]byte(doc), noEnv); err != nil || !built(KindKafka) {
			errs["ParseConfig "+name] = err
		}
	}
	_, errs["LoadConfig missing"] = LoadConfig(filepath.Join(dir, "missing.yaml"))
	errs["not built"] = errNotBuilt(KindKafka)
	errs["UnmarshalText"] = new(Mode).UnmarshalText([]byte("x"))

	require.GreaterOrEqual(t, len(errs), 11)
	for name, err := range errs {
		t.Run(name, func(t *testing.T) {
			require.Error(t, err)
			t.Log(err)
			assert.Equal(t, 1, strings.Count(err.Error(), "dlq:"), "%v", err)
			assert.True(t, strings.HasPrefix(err.Error(), "dlq: "), "%v", err)
		})
	}
}
