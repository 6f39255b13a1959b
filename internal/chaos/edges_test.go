//go:build dlq_all

package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dlqkit/dlq"
	"github.com/redis/go-redis/v9"
)

// replaceInvalid replaces each invalid UTF-8 byte by U+FFFD, as the
// envelope encoder (and encoding/json) does.
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\ufffd")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// TestEdgeInputs sends hostile entries through all four backends in
// cascade: each is written faithfully somewhere, or refused or lost with a
// counted reason; nothing panics.
func TestEdgeInputs(t *testing.T) {
	b := startBackends(t, 256<<20)
	b.http.keep = true
	cfg := b.config(dlq.ModeCascade)
	cfg.Logger = slog.New(slog.DiscardHandler)
	o, err := dlq.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := "bad\xff\xfe utf8 \x00\x01 \"quoted\" \n"
	manyKeys := map[string]string{}
	for i := range 5000 {
		manyKeys[fmt.Sprintf("key-%04d", i)] = strings.Repeat("v", i%50)
	}
	entries := []dlq.Entry{
		{ID: "nil-payload", Reason: "r", Payload: nil},
		{ID: "10MiB-payload", Reason: "r", Payload: bytes.Repeat([]byte{0xff, 0x00, 'x'}, 10<<20/3)},
		{ID: "1MiB-reason", Reason: strings.Repeat("r", 1<<20), Payload: []byte("p")},
		{ID: "invalid-utf8", Service: bad, Reason: bad, Error: bad, Destination: bad, Payload: []byte(bad),
			Source: dlq.Source{Topic: bad, Partition: -1, HasPartition: true}, Metadata: map[string]string{bad: bad}},
		{ID: "5000-metadata-keys", Reason: "r", Metadata: manyKeys},
		{ID: "dest-space", Reason: "r", Destination: "a b"},
		{ID: "dest-dotdot", Reason: "r", Destination: ".."},
		{ID: "dest-long", Reason: "r", Destination: strings.Repeat("d", 300)},
		{ID: "dest-unicode", Reason: "r", Destination: "ü"},
		{ID: "negative-attempts", Reason: "r", Attempts: -5, Timestamp: time.UnixMilli(-1)},
	}
	for _, e := range entries {
		if err := o.SendContext(context.Background(), e); err != nil {
			t.Fatalf("%s: %v", e.ID, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}

	got := readEntries(t, b)
	for _, want := range entries {
		e, ok := got[want.ID]
		if !ok {
			t.Errorf("%s: written nowhere (stats %+v)", want.ID, o.Stats().LostBy)
			continue
		}
		want.Service = replaceInvalid(want.Service)
		if want.Service == "" {
			want.Service = "chaos"
		}
		want.Reason, want.Error, want.Destination = replaceInvalid(want.Reason), replaceInvalid(want.Error), replaceInvalid(want.Destination)
		want.Source.Topic = replaceInvalid(want.Source.Topic)
		if want.Metadata != nil {
			m := map[string]string{}
			for k, v := range want.Metadata {
				m[replaceInvalid(k)] = replaceInvalid(v)
			}
			want.Metadata = m
		}
		if len(want.Payload) == 0 {
			want.Payload = []byte{}
		}
		if want.Timestamp.IsZero() {
			want.Timestamp = e.Timestamp // filled at Send
		}
		want.Timestamp = want.Timestamp.UTC()
		if !reflect.DeepEqual(want, e) {
			t.Errorf("%s: not written faithfully:\nwant %.300v\n got %.300v", want.ID, want, e)
		}
	}
	s := o.Stats()
	if s.Written != uint64(len(entries)) || s.Lost != 0 {
		t.Errorf("written %d of %d, lost %d", s.Written, len(entries), s.Lost)
	}
	var held uint64
	for _, bs := range s.Backends {
		held += bs.Entries
		t.Logf("%s: %d entries, %d errors, last error %.120q", bs.Kind, bs.Entries, bs.Errors, bs.LastError)
	}
	if held != s.Written {
		t.Errorf("cascade: the backends hold %d entries, Written is %d", held, s.Written)
	}
}

// readEntries reads every backend's entries by id.
func readEntries(t *testing.T, b *backends) map[string]dlq.Entry {
	t.Helper()
	out := map[string]dlq.Entry{}
	for _, m := range b.kafka.ReadTopic(topic) {
		e, err := dlq.ParseEnvelope(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		out[e.ID] = e
	}
	c := redis.NewClient(&redis.Options{Addr: b.redis.Addr, DisableIdentity: true})
	defer c.Close()
	msgs, err := c.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		e, err := dlq.ParseEnvelope([]byte(m.Values["data"].(string)))
		if err != nil {
			t.Fatal(err)
		}
		out[e.ID] = e
	}
	b.http.mu.Lock()
	for id, e := range b.http.kept {
		out[id] = e
	}
	b.http.mu.Unlock()
	eachFileEntry(t, filepath.Join(b.disk.Dir, "chaos"), true, func(e dlq.Entry) { out[e.ID] = e })
	return out
}

// TestConfigWithEveryFieldWrong: New names each field, and panics on none.
func TestConfigWithEveryFieldWrong(t *testing.T) {
	_, err := dlq.New(dlq.Config{
		Service: "a/../b", Mode: "x", Order: []dlq.Kind{0, 9, dlq.KindFile, dlq.KindFile},
		QueueCapacity: -1, BatchSize: -1, FlushIntervalMS: -1,
		Retry: dlq.RetryConfig{MaxAttempts: -1, InitialBackoffMS: -1, MaxBackoffMS: -1},
		File:  dlq.FileConfig{Rotation: "x", MaxSizeMB: -1, MaxAgeDays: -1, MaxBackups: -1},
		Kafka: dlq.KafkaConfig{Brokers: []string{" "}, Routing: "x", Acks: "x", Compression: "x", WriteTimeoutMS: -1,
			CommonTopic: "a b", TLS: dlq.KafkaTLS{KeyFile: "k"}, SASL: dlq.KafkaSASL{Mechanism: "x"}},
		HTTP:  dlq.HTTPConfig{URL: "::", TimeoutMS: -1, MaxBodyBytes: -1, MaxRetries: -1},
		Redis: dlq.RedisConfig{URL: "::", MaxLen: -1, CommonStream: "a b", DialTimeoutMS: -1, TimeoutMS: -1, WaitReplicas: -1, WaitTimeoutMS: -1},
	})
	var ce *dlq.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *ConfigError, got %v", err)
	}
	if len(ce.Fields) < 30 {
		t.Errorf("only %d fields named: %v", len(ce.Fields), err)
	}
	t.Logf("%d problems named, e.g. %v", len(ce.Fields), ce.Fields[:3])
}
