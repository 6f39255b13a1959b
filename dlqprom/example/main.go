// Command example is a service that dead-letters the requests it cannot
// parse and exposes the DLQ's metrics on /metrics.
//
//	go run ./example -addr 127.0.0.1:2112
//	curl -d 'not json' localhost:2112/ingest
//	curl localhost:2112/metrics
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2112", "listen address")
	dir := flag.String("dir", os.TempDir(), "the file backend's folder")
	flag.Parse()

	// The histogram is fed by OnBatch, which must be set before dlq.New:
	// make the observer first. Our own hook runs beside it.
	h := dlqprom.NewBatchObserver()
	o, err := dlq.New(dlq.Config{
		Service: "ingest",
		File:    dlq.FileConfig{Dir: *dir},
		OnBatch: func(ev dlq.BatchEvent) {
			h.Observe(ev)
			if ev.Duration > time.Second {
				slog.Warn("slow DLQ write", "backend", ev.Kind.String(), "entries", ev.Entries, "took", ev.Duration)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(dlqprom.New(o, dlqprom.WithBatchObserver(h)))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /ingest", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			// Not processable: dead-letter it and go on.
			if err := o.Send(dlq.Entry{Reason: "parse_error", Error: err.Error(), Payload: body}); err != nil {
				slog.Error("dead-letter refused", "error", err)
			}
			http.Error(w, "dead-lettered: "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("serving", "addr", *addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	closing, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Close(closing); err != nil {
		log.Fatal(err)
	}
}
