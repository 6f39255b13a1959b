package dlqotel_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqotel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "dlqotel-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The observer first: OnBatch is set before dlq.New.
	h := dlqotel.NewBatchObserver()
	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: dir}, OnBatch: h.Observe})
	if err != nil {
		log.Fatal(err)
	}
	reader := sdkmetric.NewManualReader() // in production: a periodic reader and an exporter
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	m, err := dlqotel.New(o, dlqotel.WithMeterProvider(mp), dlqotel.WithBatchObserver(h))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Unregister()

	_ = o.Send(dlq.Entry{Reason: "parse_error", Payload: []byte(`{"user":`)})
	if err := o.Close(context.Background()); err != nil {
		log.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			switch d := metric.Data.(type) {
			case metricdata.Sum[int64]:
				if metric.Name == "dlq.entries.written" {
					fmt.Println(metric.Name, d.DataPoints[0].Value)
				}
			case metricdata.Histogram[float64]:
				fmt.Println(metric.Name, "batches:", d.DataPoints[0].Count)
			}
		}
	}
	// Unordered output:
	// dlq.entries.written 1
	// dlq.backend.write.duration batches: 1
}
