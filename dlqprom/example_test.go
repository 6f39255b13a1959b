package dlqprom_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "dlqprom-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	h := dlqprom.NewBatchObserver()
	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: dir}, OnBatch: h.Observe})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(dlqprom.New(o, dlqprom.WithBatchObserver(h)))

	_ = o.Send(dlq.Entry{Reason: "parse_error", Payload: []byte(`{"user":`)})
	_ = o.Send(dlq.Entry{Reason: "schema_mismatch", Payload: []byte(`{"id":1}`)})
	if err := o.Close(context.Background()); err != nil {
		log.Fatal(err)
	}

	n, _ := testutil.GatherAndCount(reg, "dlq_backend_write_duration_seconds")
	fmt.Println("histogram series:", n)
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP dlq_entries_by_reason_total Accepted entries by their own Reason: at most 100 distinct, then "other".
# TYPE dlq_entries_by_reason_total counter
dlq_entries_by_reason_total{reason="parse_error",service="loader"} 1
dlq_entries_by_reason_total{reason="schema_mismatch",service="loader"} 1
# HELP dlq_entries_written_total Accepted entries held by at least one backend.
# TYPE dlq_entries_written_total counter
dlq_entries_written_total{service="loader"} 2
`), "dlq_entries_by_reason_total", "dlq_entries_written_total")
	fmt.Println("as expected:", err == nil)
	// Output:
	// histogram series: 1
	// as expected: true
}
