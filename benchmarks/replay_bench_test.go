//go:build dlq_kafka || dlq_all

package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// createTopics creates topics of three partitions on the broker at addr.
func createTopics(b *testing.B, addr string, topics ...string) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	for _, name := range topics {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = name, 3, 1
		req.Topics = append(req.Topics, t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			b.Fatalf("create topic %s: %v", t.Topic, err)
		}
	}
}

// BenchmarkReplay: dlq replay of the whole folder to a topic on an
// in-process kfake broker (loopback, synced writes: run it with TMPDIR on
// tmpfs, as read_table.sh does, to measure the code rather than the disk),
// each entry's payload, key and headers sent back as they came, beside
// zcat | jq | kcat -P -K, which sends each payload and key as jq decodes
// them into text: binary payloads and any newline in a payload come out
// altered, and the headers are lost. The peer runs without the
// dlq.replay_of headers dlq adds; it is what an operator would otherwise
// type.
func BenchmarkReplay(b *testing.B) {
	dir, m := readData(b)
	bin, src, files := dlqBinary(b), m.Source(dir), m.Paths(dir)
	kcat := needTool(b, "kcat", "apt-get install kcat")
	needTool(b, "jq", "apt-get install jq")
	broker := kafkatest.Start(b)
	round := 0
	race(b, m.N, true, func(b *testing.B) time.Duration {
		round++
		topic := "replay-dlq-" + strconv.Itoa(round)
		createTopics(b, broker.Addr, topic)
		out, took := execTimed(b, nil, bin, "replay", src, "--to", "kafka://"+broker.Addr+"/"+topic)
		if want := fmt.Sprintf("replayed %d to ", m.N); !bytes.HasPrefix(out, []byte(want)) || !bytes.Contains(out, []byte("; failed 0; unreadable 0")) {
			b.Fatalf("dlq replay printed %q, want %q…; failed 0; unreadable 0", out, want)
		}
		return took
	}, peer{name: "kcat", run: func(b *testing.B) time.Duration {
		topic := "replay-kcat-" + strconv.Itoa(round)
		createTopics(b, broker.Addr, topic)
		_, took := pipeline(b, `zcat -f -- "$@" | jq -r '((.key // "") | @base64d) + "\t" + (.payload | @base64d)' | `+
			kcat+` -P -b `+broker.Addr+` -t `+topic+` -K '\t'`, files)
		return took
	}})
}
