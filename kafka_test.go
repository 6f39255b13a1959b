//go:build dlq_kafka || dlq_all

package dlq

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

func kafkaConfig(broker string, dir string) Config {
	return Config{Service: "svc", Order: []Kind{KindKafka, KindFile}, File: FileConfig{Dir: dir},
		Kafka: KafkaConfig{Brokers: []string{broker}, WriteTimeoutMS: 2000}}
}

// byKafkaPayload indexes messages by the payload of their envelope.
func byKafkaPayload(t *testing.T, msgs []kafka.Message) map[string]kafka.Message {
	t.Helper()
	out := map[string]kafka.Message{}
	for _, m := range msgs {
		e, err := ParseEnvelope(m.Value)
		require.NoError(t, err)
		out[string(e.Payload)] = m
	}
	return out
}

func headers(m kafka.Message) map[string]string {
	out := map[string]string{}
	for _, h := range m.Headers {
		out[h.Key] = string(h.Value)
	}
	return out
}

func TestKafkaRouting(t *testing.T) {
	broker := kafkatest.Start(t)
	t.Run("per_table", func(t *testing.T) {
		o, err := New(kafkaConfig(broker.Addr, t.TempDir()))
		require.NoError(t, err)
		for _, dest := range []string{"acme.auth", "", "not legal", "a/b", strings.Repeat("x", 246), strings.Repeat("y", 245)} {
			require.NoError(t, o.Send(Entry{Reason: "r", Destination: dest, Payload: []byte("to:" + dest)}))
		}
		closeOK(t, o)
		perTable := byKafkaPayload(t, broker.ReadTopic("acme.auth.dlq"))
		assert.Contains(t, perTable, "to:acme.auth")
		assert.Equal(t, "acme.auth", string(perTable["to:acme.auth"].Key), "key = destination")
		long := byKafkaPayload(t, broker.ReadTopic(strings.Repeat("y", 245)+".dlq"))
		assert.Len(t, long, 1, "245 + 4 = 249 characters is still legal")
		common := byKafkaPayload(t, broker.ReadTopic("dlq"))
		for _, dest := range []string{"", "not legal", "a/b", strings.Repeat("x", 246)} {
			assert.Contains(t, common, "to:"+dest, "destination %q goes to the common topic", dest)
		}
		assert.Nil(t, common["to:"].Key, "no destination, no key")
	})
	t.Run("common with suffix and topic", func(t *testing.T) {
		cfg := kafkaConfig(broker.Addr, t.TempDir())
		cfg.Kafka.Routing, cfg.Kafka.CommonTopic = "common", "all-failures"
		o, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, o.Send(Entry{Reason: "r", Destination: "orders", Payload: []byte("o")}))
		closeOK(t, o)
		assert.Len(t, broker.ReadTopic("all-failures"), 1)
		assert.NotContains(t, broker.Topics(), "orders.dlq")
	})
	t.Run("suffix", func(t *testing.T) {
		cfg := kafkaConfig(broker.Addr, t.TempDir())
		cfg.Kafka.TopicSuffix = "-dead"
		o, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, o.Send(Entry{Reason: "r", Destination: "orders", Payload: []byte("o")}))
		closeOK(t, o)
		assert.Len(t, broker.ReadTopic("orders-dead"), 1)
	})
}

func TestKafkaMessageValueKeyTimestampAndHeaders(t *testing.T) {
	broker := kafkatest.Start(t)
	dir := t.TempDir()
	o, err := New(kafkaConfig(broker.Addr, dir))
	require.NoError(t, err)
	ts := time.UnixMilli(1764200000123)
	full := Entry{Timestamp: ts, Reason: "schema_mismatch", Error: "field x missing", Attempts: 3,
		Payload: []byte("full"), Destination: "acme.auth", Source: KafkaSource("events", 0, 0)}
	huge := Entry{Timestamp: ts, Reason: "r", Error: strings.Repeat("e", 100_000), Payload: []byte("huge-error"), Destination: "acme.auth"}
	require.NoError(t, o.Send(full))
	require.NoError(t, o.Send(huge))
	flushOK(t, o)
	closeOK(t, o)

	msgs := byKafkaPayload(t, broker.ReadTopic("acme.auth.dlq"))
	require.Len(t, msgs, 2)
	m := msgs["full"]
	e, err := ParseEnvelope(m.Value)
	require.NoError(t, err)
	full.Service, full.ID = "svc", e.ID
	assertSameEntry(t, full, e)
	assert.Equal(t, "acme.auth", string(m.Key))
	assert.True(t, ts.Equal(m.Time), "message timestamp = entry timestamp")
	assert.Equal(t, map[string]string{
		"__connect.errors.topic":             "events",
		"__connect.errors.partition":         "0",
		"__connect.errors.offset":            "0",
		"__connect.errors.exception.message": "field x missing",
		"__connect.errors.class.name":        "schema_mismatch",
		"dlq.service":                        "svc",
		"dlq.reason":                         "schema_mismatch",
		"dlq.attempts":                       "3",
		"dlq.id":                             e.ID,
	}, headers(m))

	h := headers(msgs["huge-error"])
	assert.Len(t, h["__connect.errors.exception.message"], 8<<10, "header values are capped at 8 KiB")
	_, hasTopic := h["__connect.errors.topic"]
	assert.False(t, hasTopic, "absent source parts have no header")
	assert.Empty(t, readDir(t, filepath.Join(dir, "svc")))
}

func TestKafkaOversizeEntryLandsInFileAlone(t *testing.T) {
	broker := kafkatest.Start(t)
	dir := t.TempDir()
	o, err := New(kafkaConfig(broker.Addr, dir))
	require.NoError(t, err)
	sendAll(t, o, payloads(10, "mate"))
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: make([]byte, 2<<20)}))
	sendAll(t, o, payloads(10, "mate2"))
	flushOK(t, o)
	closeOK(t, o)
	inKafka := byKafkaPayload(t, broker.ReadTopic("dlq"))
	requireHolds(t, inKafka, append(payloads(10, "mate"), payloads(10, "mate2")...))
	inFile := readDir(t, filepath.Join(dir, "svc"))
	require.Len(t, inFile, 1)
	for _, e := range inFile {
		assert.Len(t, e.Payload, 2<<20)
	}
	s := o.Stats()
	assert.Equal(t, uint64(20), s.Backends[0].Entries)
	assert.Equal(t, uint64(1), s.Backends[0].Errors)
	assert.Contains(t, s.Backends[0].LastError, "too large")
}

func TestKafkaBrokerRefusingLargeBatchFailsOnlyTheLargeMessage(t *testing.T) {
	// The broker's limit is below the client's: the broker refuses the
	// whole partition batch, and the backend finds the one message at fault.
	broker := kafkatest.Start(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": "20000"}))
	dir := t.TempDir()
	o, err := New(kafkaConfig(broker.Addr, dir))
	require.NoError(t, err)
	sendAll(t, o, payloads(5, "ok"))
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: make([]byte, 50_000)}))
	flushOK(t, o)
	closeOK(t, o)
	requireHolds(t, byKafkaPayload(t, broker.ReadTopic("dlq")), payloads(5, "ok"))
	assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 1)
}

func TestKafkaBrokerStoppedMidStream(t *testing.T) {
	broker := kafkatest.StartInProcess(t) // it stops the broker: not a real cluster
	dir := t.TempDir()
	cfg := kafkaConfig(broker.Addr, dir)
	cfg.Kafka.WriteTimeoutMS, cfg.BatchSize, cfg.FlushIntervalMS = 500, 64, 5
	o, err := New(cfg)
	require.NoError(t, err)

	before, after := payloads(3000, "before"), payloads(200, "after")
	down := sendThroughOutage(t, o, before, 300, broker.Stop)
	assert.NotZero(t, down.Backends[1].Entries, "the file took over while the broker was down")

	broker.Restart()
	probe := probeUntilUsed(t, o, down, 30*time.Second, "Kafka is used again once the broker is back")
	sendAll(t, o, after)
	flushOK(t, o)
	closeOK(t, o)

	inKafka := byKafkaPayload(t, broker.ReadTopic("dlq"))
	inFile := byPayload(readDir(t, filepath.Join(dir, "svc")))
	for _, p := range append(before, after...) {
		_, k := inKafka[p]
		_, f := inFile[p]
		require.True(t, k || f, "entry %s is neither in Kafka nor in the file", p)
	}
	requireHolds(t, inKafka, after)
	s := o.Stats()
	assert.Equal(t, uint64(3200+probe), s.Written)
	assert.GreaterOrEqual(t, s.Backends[0].Entries, uint64(len(inKafka)), "stats say what Kafka holds")
	requireAccounted(t, s)
	t.Logf("kafka %d (stats %d), file %d (stats %d)", len(inKafka), s.Backends[0].Entries, len(inFile), s.Backends[1].Entries)
}

func TestKafkaUnreachableAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	dir := t.TempDir()
	cfg := kafkaConfig(addr, dir)
	cfg.Kafka.WriteTimeoutMS = 300
	o, err := New(cfg)
	require.NoError(t, err, "New does not fail because a broker is down")
	sendAll(t, o, payloads(10, "u"))
	flushOK(t, o)
	closeOK(t, o)
	assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 10)
	assert.Contains(t, o.Stats().Backends[0].LastError, "connection refused")
}

func TestKafkaSASL(t *testing.T) {
	for _, mechanism := range []string{"plain", "scram-sha-256", "scram-sha-512"} {
		t.Run(mechanism, func(t *testing.T) {
			broker := kafkatest.Start(t, kfake.EnableSASL(), kfake.Superuser(strings.ToUpper(mechanism), "dlq", "right-pa55"))
			t.Run("right password", func(t *testing.T) {
				cfg := kafkaConfig(broker.Addr, t.TempDir())
				cfg.Kafka.SASL = KafkaSASL{Mechanism: mechanism, Username: "dlq", Password: "right-pa55"}
				o, err := New(cfg)
				require.NoError(t, err)
				sendAll(t, o, payloads(5, "s"))
				closeOK(t, o)
				assert.Equal(t, uint64(5), o.Stats().Backends[0].Entries)
			})
			t.Run("wrong password never shown", func(t *testing.T) {
				dir := t.TempDir()
				var logged strings.Builder
				cfg := kafkaConfig(broker.Addr, dir)
				cfg.Kafka.WriteTimeoutMS = 500
				cfg.Kafka.SASL = KafkaSASL{Mechanism: mechanism, Username: "dlq", Password: "wrong-pa55"}
				cfg.OnError = func(err error) { logged.WriteString(err.Error()) }
				o, err := New(cfg)
				require.NoError(t, err)
				sendAll(t, o, payloads(5, "s"))
				closeOK(t, o)
				s := o.Stats()
				assert.Zero(t, s.Backends[0].Entries)
				assert.NotEmpty(t, s.Backends[0].LastError)
				assert.NotContains(t, s.Backends[0].LastError, "wrong-pa55")
				assert.NotContains(t, logged.String(), "wrong-pa55")
				assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 5)
			})
		})
	}
}

func TestKafkaTLS(t *testing.T) {
	caPEM, serverTLS := selfSignedTLS(t)
	broker := kafkatest.Start(t, kfake.TLS(serverTLS))
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, caPEM, 0o600))
	for _, test := range []struct {
		name    string
		tls     KafkaTLS
		written bool
	}{
		{"trusted with ca_file", KafkaTLS{Enabled: true, CAFile: caFile}, true},
		{"refused without ca_file", KafkaTLS{Enabled: true}, false},
		{"insecure_skip_verify when asked", KafkaTLS{Enabled: true, InsecureSkipVerify: true}, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := kafkaConfig(broker.Addr, dir)
			cfg.Kafka.TLS, cfg.Kafka.WriteTimeoutMS = test.tls, 1000
			o, err := New(cfg)
			require.NoError(t, err)
			sendAll(t, o, payloads(3, "tls"))
			closeOK(t, o)
			s := o.Stats()
			if test.written {
				assert.Equal(t, uint64(3), s.Backends[0].Entries)
			} else {
				assert.Zero(t, s.Backends[0].Entries)
				assert.Contains(t, s.Backends[0].LastError, "certificate")
				assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 3)
			}
		})
	}
}

// selfSignedTLS makes a CA-signed-by-itself certificate for 127.0.0.1.
func selfSignedTLS(t *testing.T) ([]byte, *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dlq test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}
