//go:build dlq_kafka || dlq_all

package dlq

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/dlqkit/dlq/internal/kafkatest"
)

// TestKafkaKeepsEachDestinationInOrderInOnePartition: on topics of four
// partitions, every entry of one destination lands in one partition, in
// the order it was sent, whether topics are per table or common.
func TestKafkaKeepsEachDestinationInOrderInOnePartition(t *testing.T) {
	broker := kafkatest.StartInProcess(t, kfake.DefaultNumPartitions(4))
	dests := []string{"acme.auth", "acme.orders", "billing.invoices", "crm.contacts", "crm.leads", "ops.audit"}
	for _, test := range []struct {
		routing string
		topics  func() []string
	}{
		{"common", func() []string { return []string{"order-common"} }},
		{"per_table", func() []string {
			var out []string
			for _, d := range dests {
				out = append(out, d+".order")
			}
			return out
		}},
	} {
		t.Run(test.routing, func(t *testing.T) {
			cfg := kafkaConfig(broker.Addr, t.TempDir())
			cfg.BatchSize = 32
			cfg.Kafka.Routing, cfg.Kafka.CommonTopic, cfg.Kafka.TopicSuffix = test.routing, "order-common", ".order"
			o, err := New(cfg)
			require.NoError(t, err)
			const n = 600
			for i := range n {
				dest := dests[i%len(dests)]
				require.NoError(t, o.SendContext(t.Context(), Entry{Reason: "r", Destination: dest, Payload: fmt.Appendf(nil, "%s/%05d", dest, i)}))
			}
			flushOK(t, o)
			closeOK(t, o)

			partitions := map[string]map[int]bool{} // destination -> partitions used
			last := map[string]int{}                // destination -> last sequence read
			count := 0
			for _, topic := range test.topics() {
				for _, m := range broker.ReadTopic(topic) { // partition by partition, in offset order
					e, err := ParseEnvelope(m.Value)
					require.NoError(t, err)
					dest, seqText, _ := strings.Cut(string(e.Payload), "/")
					seq, err := strconv.Atoi(seqText)
					require.NoError(t, err)
					require.Equal(t, dest, string(m.Key), "key = destination")
					if partitions[dest] == nil {
						partitions[dest] = map[int]bool{}
						last[dest] = -1
					}
					partitions[dest][m.Partition] = true
					assert.Greater(t, seq, last[dest], "%s: entry %d after %d in partition %d", dest, seq, last[dest], m.Partition)
					last[dest] = seq
					count++
				}
			}
			assert.Equal(t, n, count)
			used := map[int]bool{}
			for _, dest := range dests {
				assert.Len(t, partitions[dest], 1, "%s in one partition", dest)
				for p := range partitions[dest] {
					used[p] = true
				}
			}
			if test.routing == "common" {
				assert.Greater(t, len(used), 1, "the destinations spread over the partitions (else the test shows nothing)")
			}
		})
	}
}
