//go:build dlq_http || dlq_all

package dlq

import (
	"bytes"
	stdgzip "compress/gzip"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/dlqkit/dlq/internal/wire"
)

// BenchmarkHTTP sends b.N entries through the orchestrator to a loopback
// net/http server, beside a raw net/http loop posting the same NDJSON
// batches of 256 to the same server, plain and gzipped (klauspost/compress
// at BestSpeed with its writer reused, as the backend). Compare entries/s.
func BenchmarkHTTP(b *testing.B) {
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Add(n)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	e := benchEntry
	e.Timestamp = time.Time{}

	for _, gz := range []bool{false, true} {
		name := map[bool]string{false: "dlq", true: "dlq-gzip"}[gz]
		b.Run(name, func(b *testing.B) {
			benchSendFlush(b, Config{Service: "bench", File: FileConfig{Disabled: true},
				HTTP: HTTPConfig{URL: srv.URL, Gzip: gz}}, e)
		})
	}
	for _, gz := range []bool{false, true} {
		name := map[bool]string{false: "net-http-batches-256", true: "net-http-gzip-batches-256"}[gz]
		b.Run(name, func(b *testing.B) {
			client := &http.Client{}
			defer client.CloseIdleConnections()
			ids := wire.NewIDSource()
			var body []byte
			var zbuf bytes.Buffer
			zw, _ := kgzip.NewWriterLevel(io.Discard, kgzip.BestSpeed)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for done := 0; done < b.N; {
				body = body[:0]
				n := min(256, b.N-done)
				for range n {
					x := e
					x.Timestamp, x.Service = time.Now(), "bench"
					x.ID = ids.Next(x.Timestamp)
					body = append(AppendEnvelope(body, &x), '\n')
				}
				payload := body
				if gz {
					zbuf.Reset()
					zw.Reset(&zbuf)
					_, _ = zw.Write(body)
					_ = zw.Close()
					payload = zbuf.Bytes()
				}
				req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(payload))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-ndjson")
				if gz {
					req.Header.Set("Content-Encoding", "gzip")
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				done += n
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
		})
	}
}

// BenchmarkGzipBody compresses a 256-entry NDJSON body of random 256-byte
// payloads: the standard library at its default level, beside the level
// and library the HTTP backend uses (klauspost/compress, BestSpeed).
func BenchmarkGzipBody(b *testing.B) {
	var body []byte
	ids := wire.NewIDSource()
	for range 256 {
		x := benchEntry
		x.Payload = make([]byte, 256)
		_, _ = rand.Read(x.Payload)
		x.ID = ids.Next(x.Timestamp)
		body = append(AppendEnvelope(body, &x), '\n')
	}
	run := func(b *testing.B, w interface {
		io.WriteCloser
		Reset(io.Writer)
	}) {
		var out bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			out.Reset()
			w.Reset(&out)
			_, _ = w.Write(body)
			_ = w.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/256, "ns/entry")
		b.ReportMetric(float64(out.Len())/float64(len(body)), "size-ratio")
	}
	b.Run("stdlib-default", func(b *testing.B) {
		w, _ := stdgzip.NewWriterLevel(io.Discard, stdgzip.DefaultCompression)
		run(b, w)
	})
	b.Run("stdlib-bestspeed", func(b *testing.B) {
		w, _ := stdgzip.NewWriterLevel(io.Discard, stdgzip.BestSpeed)
		run(b, w)
	})
	b.Run("klauspost-bestspeed", func(b *testing.B) {
		w, _ := kgzip.NewWriterLevel(io.Discard, kgzip.BestSpeed)
		run(b, w)
	})
}
