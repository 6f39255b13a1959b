//go:build dlq_http || dlq_all

package dlq

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startNeverAnswering starts a real net/http server that reads each request
// and never answers it, until the test ends; it signals each request on
// the returned channel.
func startNeverAnswering(t *testing.T) (url string, requests <-chan struct{}) {
	release := make(chan struct{})
	got := make(chan struct{}, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case got <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv.URL, got
}

// TestShutdownFullQueueHungServer: with a million entries queued behind an
// HTTP server that never answers (alone, and in cascade before a file on a
// full tmpfs), Close returns by its deadline: the write in flight is
// cancelled, and the queue is counted lost (shutdown) without being
// encoded; with OnLoss set, each entry is handed to it once, by id.
func TestShutdownFullQueueHungServer(t *testing.T) {
	// The batch in flight and the one encoded ahead of it.
	const encodedAtMost = 2 * defaultBatchSize
	for _, test := range []struct {
		name string
		file bool
	}{
		{"hung server alone", false},
		{"hung server then a full disk", true},
	} {
		t.Run(test.name, func(t *testing.T) {
			url, requests := startNeverAnswering(t)
			cfg := Config{Service: "svc", QueueCapacity: fullQueue, File: FileConfig{Disabled: true},
				HTTP: HTTPConfig{URL: url}, Logger: slog.New(slog.DiscardHandler)}
			if test.file {
				disk := testenv.MountTmpfs(t, 64<<10)
				t.Cleanup(disk.Fill())
				cfg.File = FileConfig{Dir: disk.Dir}
				cfg.Order = []Kind{KindHTTP, KindFile}
			}
			o, err := New(cfg)
			require.NoError(t, err)
			require.NoError(t, o.Send(Entry{ID: "first", Reason: "r", Payload: []byte("x")}))
			<-requests // the drain is writing to the server, which hangs
			fillQueue(t, o, fullQueue-1)
			_ = closeFullQueue(t, o, fullQueue, encodedAtMost)
		})
	}
	t.Run("OnLoss gets every entry once", func(t *testing.T) {
		// Each entry is taken off the queue for OnLoss: a tenth of the
		// queue keeps the test short under -race.
		const queued = fullQueue / 10
		url, requests := startNeverAnswering(t)
		handed := map[string]int{}
		o, err := New(Config{Service: "svc", QueueCapacity: fullQueue, File: FileConfig{Disabled: true},
			HTTP: HTTPConfig{URL: url}, Logger: slog.New(slog.DiscardHandler),
			OnLoss: func(e Entry, reason LossReason, err error) {
				if reason == ReasonShutdown && err != nil {
					handed[e.ID]++
				}
			}})
		require.NoError(t, err)
		require.NoError(t, o.Send(Entry{ID: "first", Reason: "r", Payload: []byte("x")}))
		<-requests
		ids := fillQueue(t, o, queued-1)
		ids["first"] = true
		_ = closeFullQueue(t, o, queued, encodedAtMost)
		// Read after Close returned: the drain, which calls OnLoss, is gone.
		require.Len(t, handed, len(ids), "OnLoss got every accepted entry")
		for id, n := range handed {
			if !assert.True(t, ids[id], "OnLoss got %s, never accepted", id) || !assert.Equal(t, 1, n, "OnLoss got %s %d times", id, n) {
				break
			}
		}
	})
}
