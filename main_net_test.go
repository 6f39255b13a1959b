//go:build dlq_kafka || dlq_http || dlq_redis || dlq_all

package dlq

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The helpers the tests of the network backends (Kafka, HTTP, Redis) share,
// built whenever one of them is: a server that hangs and the shutdown
// patterns run against it, sends through an outage, the send-and-flush
// benchmark loop, and self-signed certificates.

// hangingListener accepts TCP connections, reads what comes and never
// answers: a server that hangs.
type hangingListener struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func startHanging(t *testing.T) *hangingListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &hangingListener{ln: ln}
	h.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			h.accepted.Add(1)
			h.mu.Lock()
			h.conns = append(h.conns, conn)
			h.mu.Unlock()
			h.wg.Go(func() { _, _ = io.Copy(io.Discard, conn) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		h.mu.Lock()
		for _, c := range h.conns {
			_ = c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	return h
}

func (h *hangingListener) addr() string { return h.ln.Addr().String() }

// closeDeadline is how long the tests give Flush and Close; liveness is
// the bound within which they must have returned: ten times as long, so
// that a loaded machine cannot fail the test, while a write that waits for
// the backend's own 60 s timeout does.
const (
	closeDeadline = time.Second
	liveness      = 10 * closeDeadline
)

// within runs f and fails the test unless it returns within liveness.
func within(t *testing.T, what string, f func() error) (error, time.Duration) {
	t.Helper()
	result := make(chan error, 1)
	start := time.Now()
	go func() { result <- f() }()
	select {
	case err := <-result:
		return err, time.Since(start)
	case <-time.After(liveness):
		require.FailNow(t, what+" did not return", "still blocked after %s", liveness)
		return nil, 0
	}
}

// requireDeadlinesHold runs the shutdown patterns of real programs against
// a backend that hangs (cfg's only backend, with a 60 s timeout of its
// own): Flush then Close, with the same expired context or a fresh one,
// and Close alone while a write is in flight. Each returns by its
// deadline, and the entries count as lost with reason shutdown.
func requireDeadlinesHold(t *testing.T, cfg Config, hanging *hangingListener) {
	const n = 50
	cfg.Logger = slog.New(slog.DiscardHandler)
	start := func(t *testing.T) *Orchestrator {
		o, err := New(cfg)
		require.NoError(t, err)
		for i := range n {
			require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "%d", i)}))
		}
		return o
	}
	flush := func(t *testing.T, o *Orchestrator, ctx context.Context) {
		err, took := within(t, "Flush", func() error { return o.Flush(ctx) })
		require.ErrorIs(t, err, ErrNotWritten)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		t.Logf("Flush returned %s after its deadline", took-closeDeadline)
	}
	closeLosing := func(t *testing.T, o *Orchestrator, ctx context.Context) {
		err, took := within(t, "Close", func() error { return o.Close(ctx) })
		require.Error(t, err)
		assert.ErrorContains(t, err, fmt.Sprintf("%d entries lost", n))
		s := o.Stats()
		assert.Equal(t, map[LossReason]uint64{ReasonShutdown: n}, s.LostBy)
		assert.Zero(t, s.Held)
		requireAccounted(t, s)
		t.Logf("Close took %s", took)
	}
	t.Run("Flush then Close with the same expired context", func(t *testing.T) {
		o := start(t)
		ctx, cancel := context.WithTimeout(context.Background(), closeDeadline)
		defer cancel()
		flush(t, o, ctx)
		closeLosing(t, o, ctx)
	})
	t.Run("Flush then Close with a fresh deadline", func(t *testing.T) {
		o := start(t)
		ctx, cancel := context.WithTimeout(context.Background(), closeDeadline)
		defer cancel()
		flush(t, o, ctx)
		ctx2, cancel2 := context.WithTimeout(context.Background(), closeDeadline)
		defer cancel2()
		closeLosing(t, o, ctx2)
	})
	t.Run("Close while a write is in flight", func(t *testing.T) {
		before := hanging.accepted.Load()
		o := start(t)
		require.Eventually(t, func() bool { return hanging.accepted.Load() > before }, liveness, time.Millisecond,
			"the drain is writing to the hanging server")
		ctx, cancel := context.WithTimeout(context.Background(), closeDeadline)
		defer cancel()
		closeLosing(t, o, ctx)
	})
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

// writeSelfSignedCert writes a certificate for 127.0.0.1 that is its own
// CA, and its key, as PEM files; it returns their paths.
func writeSelfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dlq redis test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

// sendThroughOutage sends ps at a steady pace from another goroutine, calls
// kill once the first backend holds more than heldFirst entries, waits for
// the sends to finish, flushes, and returns the stats as they stand then.
func sendThroughOutage(t *testing.T, o *Orchestrator, ps []string, heldFirst uint64, kill func()) Stats {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() { // not the test goroutine: t.Errorf, never require
		for i, p := range ps {
			if err := o.SendContext(context.Background(), Entry{Reason: "r", Payload: []byte(p)}); err != nil {
				t.Errorf("SendContext %s: %v", p, err)
				return
			}
			if i%100 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	require.Eventually(t, func() bool { return o.Stats().Backends[0].Entries > heldFirst }, 20*time.Second, time.Millisecond)
	kill()
	wg.Wait()
	flushOK(t, o)
	return o.Stats()
}

// probeUntilUsed sends and flushes one probe entry at a time until the
// first backend holds more than it did when it went down, and returns how
// many probes that took.
func probeUntilUsed(t *testing.T, o *Orchestrator, down Stats, within time.Duration, msg string) int {
	t.Helper()
	// A loop of its own: require.Eventually runs its condition on another
	// goroutine, where require must not be called.
	deadline := time.Now().Add(within)
	for probes := 1; ; probes++ {
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "probe-%d", probes)}))
		flushOK(t, o)
		if o.Stats().Backends[0].Entries > down.Backends[0].Entries {
			return probes
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still unused after %d probes in %s", msg, probes, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// benchSendFlush sends b.N copies of e through a new orchestrator built
// from cfg, flushes, reports entries/s, and closes it with the timer
// stopped. It returns the closed orchestrator for checks on its Stats.
func benchSendFlush(b *testing.B, cfg Config, e Entry) *Orchestrator {
	b.Helper()
	o, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := o.SendContext(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	if err := o.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	b.StopTimer()
	if err := o.Close(ctx); err != nil {
		b.Fatal(err)
	}
	return o
}
