//go:build dlq_all

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func createTopics(t *testing.T, addr string, topics ...string) {
	t.Helper()
	conn, err := kafka.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	for _, topic := range topics {
		require.NoError(t, conn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 2, ReplicationFactor: 1}))
	}
}

func TestReplayToKafka(t *testing.T) {
	broker := kafkatest.Start(t)
	dir := t.TempDir()
	// The binary entry's source topic is the one it came from.
	o, err := dlq.New(dlq.Config{Service: "ingest", File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	bin := fixtureEntries()[8]
	bin.Source = dlq.KafkaSource("payments", 1, 7)
	require.NoError(t, o.Send(bin))
	require.NoError(t, o.Close(t.Context()))
	createTopics(t, broker.Addr, "payments", "acme.auth")

	t.Run("to the source topic: payload, key and headers byte for byte", func(t *testing.T) {
		_, err := run(t, "replay", dir, "--to", "kafka://"+broker.Addr)
		require.NoError(t, err)
		msgs := broker.ReadTopic("payments")
		require.Len(t, msgs, 1)
		m := msgs[0]
		assert.Equal(t, allBytes, m.Value)
		assert.Equal(t, []byte{0, 0xff, '\n'}, m.Key)
		var headers []dlq.Header
		for _, h := range m.Headers {
			headers = append(headers, dlq.Header{Key: h.Key, Value: h.Value})
		}
		assert.Equal(t, []dlq.Header{{Key: "trace", Value: []byte("t-1")}, {Key: "bin", Value: []byte{0xfe, 0}},
			{Key: "dlq.replay_of", Value: []byte("id-binary")}, {Key: "dlq.replay_count", Value: []byte("1")}}, headers)
	})
	t.Run("to the destination", func(t *testing.T) {
		_, err := run(t, "replay", dir, "--to", "kafka://"+broker.Addr+"/{destination}")
		require.NoError(t, err)
		assert.Len(t, broker.ReadTopic("acme.auth"), 1)
	})
	t.Run("an entry without the topic's part stops the replay", func(t *testing.T) {
		src := t.TempDir()
		writeFixture(t, src)
		_, err := run(t, "replay", src, "--to", "kafka://"+broker.Addr, "--reason", "timeout")
		assert.ErrorContains(t, err, "replay stopped: 0 sent, 2 failed: kafka target: entry id-timeout-1 has no source.topic")
	})
	t.Run("read back from the DLQ topic the backend wrote", func(t *testing.T) {
		src := t.TempDir()
		writeFixture(t, src)
		_, err := run(t, "copy", src, "--to", "kafka://"+broker.Addr+"/all.dlq")
		require.NoError(t, err)
		assertCopied(t, entriesByID(t, "kafka://"+broker.Addr+"/all.dlq"))
		out, err := run(t, "inspect", "kafka://"+broker.Addr+"/all.dlq", "--json")
		require.NoError(t, err)
		assert.Contains(t, out, `"total":9,"unreadable":0`)
		out, err = run(t, "show", "--raw", "kafka://"+broker.Addr+"/all.dlq", "id-binary")
		require.NoError(t, err)
		assert.Equal(t, allBytes, []byte(out))
	})
}

func TestReplayAndCopyWithRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	key := fmt.Sprintf("dlq-test-cmd-%08x", rand.Uint32())
	t.Cleanup(func() { c.Del(context.Background(), key+".copy", key+".replay") })
	src := t.TempDir()
	writeFixture(t, src)

	t.Run("copy, then every command reads the stream", func(t *testing.T) {
		_, err := run(t, "copy", src, "--to", "redis://"+addr+"/0?stream="+key+".copy")
		require.NoError(t, err)
		stream := "redis://" + addr + "/0?stream=" + key + ".copy"
		assertCopied(t, entriesByID(t, stream))
		out, err := run(t, "tail", "-n", "1", "--json", stream)
		require.NoError(t, err)
		assert.Equal(t, 1, strings.Count(out, "\n"))
	})
	t.Run("replay: field payload, headers as fields", func(t *testing.T) {
		_, err := run(t, "replay", src, "--service", "ingest", "--to", "redis://"+addr+"/0?stream="+key+".replay")
		require.NoError(t, err)
		msgs, err := c.XRange(t.Context(), key+".replay", "-", "+").Result()
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		v := msgs[0].Values
		assert.Equal(t, string(allBytes), v["payload"])
		assert.Equal(t, "t-1", v["trace"])
		assert.Equal(t, "\xfe\x00", v["bin"])
		assert.Equal(t, "id-binary", v["dlq.replay_of"])
		assert.Equal(t, "1", v["dlq.replay_count"])
	})
}

func TestCopyToHTTP(t *testing.T) {
	src := t.TempDir()
	writeFixture(t, src)
	var mu sync.Mutex
	got := map[string]dlq.Entry{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Header.Get("Content-Type") != "application/x-ndjson" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
			e, err := dlq.ParseEnvelope(line)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			got[e.ID] = e
		}
	}))
	defer srv.Close()
	out, err := run(t, "copy", src, "--to", srv.URL+"/ingest")
	require.NoError(t, err)
	assert.Contains(t, out, "copied 9 to")
	mu.Lock()
	defer mu.Unlock()
	assertCopied(t, got)
}
