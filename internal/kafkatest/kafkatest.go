// Package kafkatest runs a Kafka-protocol broker for dlq's tests: kfake,
// in process, on a loopback port, keeping its data on disk so that it can be
// stopped and started again; or a real cluster named by $DLQ_KAFKA_BROKERS.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker is a Kafka-protocol broker for one test.
type Broker struct {
	// Addr is the bootstrap address.
	Addr    string
	t       testing.TB
	port    int
	dir     string
	opts    []kfake.Opt
	cluster *kfake.Cluster // nil for a real cluster, or while stopped

	mu        sync.Mutex
	observers map[int16][]func(kmsg.Request)
}

// Start starts a kfake broker on a free loopback port, with extra kfake
// options (SASL, TLS, broker configs), and stops it when the test ends.
// When $DLQ_KAFKA_BROKERS names a real cluster and no options are given, it
// is used instead.
func Start(t testing.TB, opts ...kfake.Opt) *Broker {
	t.Helper()
	if addrs := os.Getenv("DLQ_KAFKA_BROKERS"); addrs != "" && len(opts) == 0 {
		return &Broker{Addr: strings.Split(addrs, ",")[0], t: t}
	}
	return StartInProcess(t, opts...)
}

// StartInProcess starts a kfake broker whatever $DLQ_KAFKA_BROKERS says, for
// tests that stop the broker or watch the requests it handles.
func StartInProcess(t testing.TB, opts ...kfake.Opt) *Broker {
	t.Helper()
	b := &Broker{t: t, port: testenv.FreePort(t), dir: t.TempDir(), opts: opts}
	b.Addr = fmt.Sprintf("127.0.0.1:%d", b.port)
	b.start()
	t.Cleanup(b.Stop)
	return b
}

func (b *Broker) start() {
	b.t.Helper()
	opts := []kfake.Opt{kfake.Ports(b.port), kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(),
		kfake.DataDir(b.dir), kfake.SyncWrites()}
	opts = append(opts, b.opts...)
	var err error
	for range 50 { // the port may linger briefly after a stop
		if b.cluster, err = kfake.NewCluster(opts...); err == nil {
			b.mu.Lock()
			defer b.mu.Unlock()
			for key, fns := range b.observers {
				for _, fn := range fns {
					b.control(key, fn)
				}
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.t.Fatalf("start kfake on %s: %v", b.Addr, err)
}

// Observe calls fn with every request of the given kind (a kmsg key:
// kmsg.Produce.Int16(), …) the broker handles, before the broker answers it
// as usual, from now on and across restarts. fn runs on the broker's
// goroutine: it must not block. A real cluster cannot be observed: the test
// fails.
func (b *Broker) Observe(key int16, fn func(kmsg.Request)) {
	b.t.Helper()
	if b.Real() {
		b.t.Fatal("observing requests needs the in-process kfake: use StartInProcess")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.observers == nil {
		b.observers = map[int16][]func(kmsg.Request){}
	}
	b.observers[key] = append(b.observers[key], fn)
	b.control(key, fn)
}

func (b *Broker) control(key int16, fn func(kmsg.Request)) {
	c := b.cluster
	c.ControlKey(key, func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		fn(req)
		return nil, nil, false // not handled: the broker answers
	})
}

// Real reports whether the broker is a real cluster, which the tests cannot
// stop.
func (b *Broker) Real() bool { return b.dir == "" }

// Cluster returns the running kfake cluster, for control hooks
// (Cluster.ControlKey); nil for a real cluster or while stopped. A restart
// makes a new cluster without the hooks.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Stop stops the broker; what it acknowledged stays on disk.
func (b *Broker) Stop() {
	if b.cluster != nil {
		b.cluster.Close()
		b.cluster = nil
	}
}

// Restart starts a stopped broker again on the same port with its data.
func (b *Broker) Restart() {
	b.t.Helper()
	if b.Real() {
		b.t.Fatal("cannot restart a real cluster")
	}
	b.Stop()
	b.start()
}

// ReadTopic returns every message in every partition of topic, read with
// kafka-go. A topic that does not exist has none.
func (b *Broker) ReadTopic(topic string) []kafka.Message {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", b.Addr)
	if err != nil {
		b.t.Fatalf("dial %s: %v", b.Addr, err)
	}
	defer conn.Close()
	partitions, err := conn.ReadPartitions(topic)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return nil
	}
	if err != nil {
		b.t.Fatalf("partitions of %s: %v", topic, err)
	}
	var out []kafka.Message
	for _, p := range partitions {
		out = append(out, b.readPartition(ctx, topic, p.ID)...)
	}
	return out
}

// readFetchBytes bounds one fetch of readPartition. The read deadline covers
// a fetch and the decoding of what it returned, in this process (kfake
// serving it from disk, kafka-go parsing it, both under -race): with 64 MiB
// fetches a topic of 200k entries took over the deadline on a busy 2-core
// machine ("[7] Request Timed Out", or "i/o timeout"). 1 MiB is about 2k
// entries, tens of milliseconds; a batch larger than that still comes whole.
const readFetchBytes = 1 << 20

func (b *Broker) readPartition(ctx context.Context, topic string, partition int) []kafka.Message {
	b.t.Helper()
	conn, err := kafka.DialLeader(ctx, "tcp", b.Addr, topic, partition)
	if err != nil {
		b.t.Fatalf("dial leader of %s/%d: %v", topic, partition, err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		b.t.Fatalf("last offset of %s/%d: %v", topic, partition, err)
	}
	var out []kafka.Message
	for offset := int64(0); offset < last; {
		if _, err := conn.Seek(offset, kafka.SeekAbsolute); err != nil {
			b.t.Fatalf("seek %s/%d to %d: %v", topic, partition, offset, err)
		}
		// Fetches of readFetchBytes under a generous deadline: a -race run
		// of the chaos suite reads 100k messages from a broker on a busy
		// machine.
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		batch := conn.ReadBatch(1, readFetchBytes)
		from := offset
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			out = append(out, m)
			offset = m.Offset + 1
		}
		if err := batch.Close(); err != nil && offset < last {
			b.t.Fatalf("read %s/%d at %d of %d: %v", topic, partition, offset, last, err)
		}
		if offset == from {
			b.t.Fatalf("read %s/%d at %d of %d: the fetch returned nothing", topic, partition, offset, last)
		}
	}
	return out
}

// Topics lists the broker's topics.
func (b *Broker) Topics() []string {
	b.t.Helper()
	conn, err := kafka.Dial("tcp", b.Addr)
	if err != nil {
		b.t.Fatalf("dial %s: %v", b.Addr, err)
	}
	defer conn.Close()
	partitions, err := conn.ReadPartitions()
	if err != nil {
		b.t.Fatalf("list topics: %v", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range partitions {
		if !seen[p.Topic] {
			seen[p.Topic] = true
			out = append(out, p.Topic)
		}
	}
	return out
}
