// Command http-ingest is an HTTP service that validates incoming JSON
// events, hands the ones that fail validation to the DLQ, and shuts down
// gracefully on SIGINT or SIGTERM: stop serving, Flush, then Close.
//
// The DLQ's config is dlq.yaml beside this file (built in), or the file
// named by -config; it takes the HTTP endpoint and the folder from the
// environment.
//
//	go run ./examples/http-ingest                                        # DLQ to ./dlq
//	DLQ_HTTP_URL=http://127.0.0.1:9000/dlq go run -tags dlq_http ./examples/http-ingest
//	curl -d '{"user":"ann","action":"login"}' 127.0.0.1:8080/events    # 202
//	curl -d '{"user":""}' 127.0.0.1:8080/events                         # 422, DLQ'd
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dlqkit/dlq"
)

type event struct {
	User   string `json:"user"`
	Action string `json:"action"`
}

func (e *event) validate() error {
	switch {
	case e.User == "":
		return errors.New("user is required")
	case e.Action == "":
		return errors.New("action is required")
	}
	return nil
}

//go:embed dlq.yaml
var defaultConfig []byte

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	configFile := flag.String("config", "", "the DLQ's YAML config file; empty uses the built-in dlq.yaml")
	flag.Parse()

	cfg, err := dlq.ParseConfig(defaultConfig)
	if *configFile != "" {
		cfg, err = dlq.LoadConfig(*configFile)
	}
	if err != nil {
		log.Fatal(err) // a misspelled key names its line; a missing tag is named too
	}
	q, err := dlq.New(cfg)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ev event
		if err = json.Unmarshal(body, &ev); err == nil {
			err = ev.validate()
		}
		if err != nil {
			sendErr := q.Send(dlq.Entry{Reason: "validation_error", Error: err.Error(), Payload: body,
				Destination: "events", Metadata: map[string]string{"remote": r.RemoteAddr}})
			if sendErr != nil {
				log.Print("DLQ refused the entry: ", sendErr) // counted in Stats.Dropped
			}
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		log.Printf("listening on %s", *addr)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()

	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Print("shutdown: ", err)
	}
	if err := q.Flush(shutdown); err != nil {
		log.Print("DLQ flush: ", err)
	}
	if err := q.Close(shutdown); err != nil {
		log.Print("DLQ close: ", err)
	}
	s := q.Stats()
	fmt.Printf("DLQ: %d accepted, %d written, %d dropped, %d lost\n", s.Accepted, s.Written, s.Dropped, s.Lost)
}
