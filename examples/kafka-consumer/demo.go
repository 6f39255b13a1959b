package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The demo's topic: demoMessages messages on one partition, every
// demoPoisonEvery-th one not JSON; the bad deploy breaks the messages from
// demoBreaksFrom on until it is rolled back.
const (
	demoMessages    = 20000
	demoPoisonEvery = 997
	demoBreaksFrom  = 2000
)

// demo is the in-process broker and the bad deploy of the demo. A nil
// *demo is no demo: every message is processed as it is.
type demo struct {
	cluster *kfake.Cluster
	broken  atomic.Bool
	last    atomic.Int64 // the offset of the last message handled
	out     io.Writer
}

// startDemo starts a broker holding the demo's topic and points
// KAFKA_BROKERS at it, as a deployment would; the storm brake's window is
// half a second (it looks every 50 ms) and its cool-down a second.
func startDemo(ctx context.Context, topic string, out io.Writer) (*demo, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(1, topic))
	if err != nil {
		return nil, err
	}
	d := &demo{cluster: cluster, out: out}
	d.broken.Store(true)
	d.last.Store(-1)
	addr := cluster.ListenAddrs()[0]
	_ = os.Setenv("KAFKA_BROKERS", addr)
	for env, ms := range map[string]string{"DLQ_STORM_WINDOW_MS": "500", "DLQ_STORM_COOL_DOWN_MS": "1000"} {
		if os.Getenv(env) == "" {
			_ = os.Setenv(env, ms)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		cluster.Close()
		return nil, err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, demoMessages)
	for i := range recs {
		v := []byte(`{"id":` + strconv.Itoa(i) + `}`)
		if i%demoPoisonEvery == demoPoisonEvery-1 {
			v = []byte(`<xml id="` + strconv.Itoa(i) + `"/>`)
		}
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: v}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		cluster.Close()
		return nil, err
	}
	fmt.Fprintf(out, "demo: %d messages in %s, one in %d not JSON; the deploy breaks those from %d on\n",
		demoMessages, topic, demoPoisonEvery, demoBreaksFrom)
	return d, nil
}

// process is the consumer's work: a message must be JSON, and the bad
// deploy fails every message from demoBreaksFrom on.
func (d *demo) process(rec *kgo.Record) error {
	if !json.Valid(rec.Value) {
		return errNotJSON
	}
	if d != nil && d.broken.Load() && rec.Offset >= demoBreaksFrom {
		return errSchema
	}
	return nil
}

// rollBack ends the bad deploy: what an operator does when the storm brake
// pages them.
func (d *demo) rollBack() {
	if d.broken.Swap(false) {
		fmt.Fprintln(d.out, "demo: the bad deploy is rolled back")
	}
}

// done notes that rec was handled: processed, or dead-lettered. The
// Consumer hands a partition's records out in order, and none after one
// it must read again.
func (d *demo) done(rec *kgo.Record) {
	if d != nil {
		d.last.Store(rec.Offset)
	}
}

// handled reports whether every message of the demo is handled: then the
// demo ends. Without a demo, never.
func (d *demo) handled() bool {
	return d != nil && d.last.Load() >= demoMessages-1
}

func (d *demo) close() { d.cluster.Close() }
