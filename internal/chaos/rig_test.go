//go:build dlq_all

package chaos

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/redis/go-redis/v9"
)

const (
	topic  = "chaos"
	stream = "chaos"
)

// backends are the four real backends of one run.
type backends struct {
	kafka *kafkatest.Broker
	redis *testenv.RedisServer
	http  *httpSink
	disk  *testenv.Tmpfs
}

func startBackends(t *testing.T, diskBytes int) *backends {
	t.Helper()
	b := &backends{
		kafka: kafkatest.Start(t),
		// appendfsync always: what Redis acknowledged survives its SIGKILL,
		// so a missing entry is the DLQ's fault, not Redis's.
		redis: testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always"),
		http:  newHTTPSink(),
		disk:  testenv.MountTmpfs(t, diskBytes),
	}
	if b.kafka.Real() {
		testenv.SkipOrFail(t, "the reliability suite stops the broker: it needs the in-process kfake, not $DLQ_KAFKA_BROKERS")
	}
	t.Cleanup(b.http.srv.Close)
	return b
}

func (b *backends) config(mode dlq.Mode) dlq.Config {
	return dlq.Config{
		Service:         "chaos",
		Mode:            mode,
		Order:           []dlq.Kind{dlq.KindKafka, dlq.KindRedis, dlq.KindHTTP, dlq.KindFile},
		QueueCapacity:   20000,
		BatchSize:       64,
		FlushIntervalMS: 20,
		Retry:           dlq.RetryConfig{InitialBackoffMS: 20, MaxBackoffMS: 500},
		File:            dlq.FileConfig{Dir: b.disk.Dir, Rotation: dlq.RotateSize, MaxSizeMB: 1, Compress: true},
		Kafka:           dlq.KafkaConfig{Brokers: []string{b.kafka.Addr}, Routing: "common", CommonTopic: topic, WriteTimeoutMS: 1000},
		Redis:           dlq.RedisConfig{URL: "redis://" + b.redis.Addr, Stream: stream, DialTimeoutMS: 200, TimeoutMS: 500},
		HTTP:            dlq.HTTPConfig{URL: b.http.srv.URL, TimeoutMS: 500, MaxRetries: 1},
	}
}

// holdings says how many times each backend holds each entry id.
type holdings map[string]map[string]int // backend -> id -> copies

func (b *backends) readAll(t *testing.T) holdings {
	t.Helper()
	h := holdings{"kafka": {}, "redis": {}, "http": b.http.received(), "file": {}}
	for _, m := range b.kafka.ReadTopic(topic) {
		e, err := dlq.ParseEnvelope(m.Value)
		if err != nil {
			t.Fatalf("kafka holds a message that is not an envelope: %v", err)
		}
		h["kafka"][e.ID]++
	}
	c := redis.NewClient(&redis.Options{Addr: b.redis.Addr, DisableIdentity: true})
	defer c.Close()
	for start := "-"; ; {
		msgs, err := c.XRangeN(context.Background(), stream, start, "+", 10000).Result()
		if err != nil {
			t.Fatalf("XRANGE: %v", err)
		}
		for _, m := range msgs {
			e, err := dlq.ParseEnvelope([]byte(m.Values["data"].(string)))
			if err != nil {
				t.Fatalf("redis holds a message that is not an envelope: %v", err)
			}
			h["redis"][e.ID]++
		}
		if len(msgs) < 10000 {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	readFiles(t, filepath.Join(b.disk.Dir, "chaos"), true, h["file"])
	return h
}

// readFiles counts each entry id in every file, rotated and gzipped ones
// too, once the file backend's background compression (when compressed)
// has finished.
func readFiles(t *testing.T, dir string, compressed bool, into map[string]int) {
	t.Helper()
	eachFileEntry(t, dir, compressed, func(e dlq.Entry) { into[e.ID]++ })
}

// eachFileEntry calls fn with every entry in every file of dir.
func eachFileEntry(t *testing.T, dir string, compressed bool, fn func(dlq.Entry)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for compressed {
		plain, _ := filepath.Glob(filepath.Join(dir, "dlq-*.ndjson"))
		if len(plain) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // rotated files still being gzipped
	}
	files, err := filepath.Glob(filepath.Join(dir, "dlq*.ndjson*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		scanner := bufio.NewScanner(bytes.NewReader(data))
		scanner.Buffer(nil, 64<<20)
		for scanner.Scan() {
			e, err := dlq.ParseEnvelope(scanner.Bytes())
			if err != nil {
				continue // a torn line left by a write to a full disk
			}
			fn(e)
		}
	}
}

// summary is the table a run prints.
type summary struct {
	mode                    dlq.Mode
	seed                    int64
	duration                time.Duration
	sent, accepted          int
	refused                 map[string]int
	stats                   dlq.Stats
	held                    map[string]int // backend -> distinct entries held
	duplicates              int            // extra copies beyond one per entry
	lostBy                  map[dlq.LossReason]uint64
	faults                  map[string]int
	unaccounted, notInEvery int
}

func (s *summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| chaos run | %s, seed %d, faults for %s |\n|---|---|\n", s.mode, s.seed, s.duration)
	fmt.Fprintf(&b, "| entries sent | %d |\n| accepted | %d |\n", s.sent, s.accepted)
	fmt.Fprintf(&b, "| refused | %s |\n", formatCounts(s.refused))
	for _, bs := range s.stats.Backends {
		fmt.Fprintf(&b, "| written to %s | %d held (stats: %d entries, %d errors, %d missed) |\n",
			bs.Kind, s.held[bs.Kind.String()], bs.Entries, bs.Errors, bs.Missed)
	}
	fmt.Fprintf(&b, "| written (stats) | %d |\n| duplicates | %d |\n", s.stats.Written, s.duplicates)
	lost := map[string]int{}
	for k, v := range s.lostBy {
		lost[string(k)] = int(v)
	}
	fmt.Fprintf(&b, "| lost | %d %s |\n| retried | %d |\n", s.stats.Lost, formatCounts(lost), s.stats.Retried)
	fmt.Fprintf(&b, "| faults injected | %s |\n", formatCounts(s.faults))
	fmt.Fprintf(&b, "| accepted but neither held nor counted lost | %d |\n", s.unaccounted)
	if s.mode == dlq.ModeFanOut {
		fmt.Fprintf(&b, "| written but missing from some backend, not counted missed | %d |\n", s.notInEvery)
	}
	return b.String()
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
