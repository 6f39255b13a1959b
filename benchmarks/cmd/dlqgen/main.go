// Command dlqgen writes a realistic dead-letter queue through the dlq
// library: N entries over 72 hours, nine reasons, twenty bugs whose error
// texts carry ids, addresses and numbers, JSON and binary payloads with
// Kafka keys, headers and metadata, in a folder of rotated files (the older
// gzipped) and the live one. The same seed writes the same bytes.
// DIR/manifest.json records the ground truth: entries per reason, per bug
// and per hour, each entry's bug, and a few entries' ids with their file.
//
//	go run ./benchmarks/cmd/dlqgen -seed 1 -n 1000000 -out DIR
//	dlq inspect DIR/orders-consumer
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/dlqkit/dlq/benchmarks/internal/dlqgen"
)

func main() {
	var o dlqgen.Options
	out := flag.String("out", "", "the output directory (required; the service folder and manifest.json go in it)")
	flag.Uint64Var(&o.Seed, "seed", 1, "the seed: the same seed and flags write the same bytes")
	flag.IntVar(&o.N, "n", 1_000_000, "how many entries")
	flag.IntVar(&o.Hours, "hours", 72, "the span of the entries' timestamps, in hours")
	flag.IntVar(&o.Files, "files", 40, "how many files the folder should end with, the live one included")
	flag.IntVar(&o.Plain, "plain", 4, "how many of the newest rotated files stay uncompressed (-1: none)")
	flag.IntVar(&o.MaxSizeMB, "max-size-mb", 0, "the file backend's max_size_mb (0: from -files and the entries' mean size)")
	flag.StringVar(&o.Service, "service", "orders-consumer", "the service, and the folder's name")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	m, err := dlqgen.Write(ctx, *out, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dlqgen:", err)
		os.Exit(1)
	}
	fmt.Printf("%d entries in %s: %d gzipped and %d plain rotated files and the live one, %.2f GB of NDJSON, %.0f MB on disk (max_size_mb %d); %d reasons, %d bugs; %s\n",
		m.N, m.Source(*out), m.Gzipped, m.PlainRotated, float64(m.BytesPlain)/1e9, float64(m.BytesOnDisk)/1e6,
		m.MaxSizeMB, len(m.Reasons), m.DistinctBugs, time.Since(start).Round(time.Second))
}
