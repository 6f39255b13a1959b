package dlqkgo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkgo"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// Consumer has none of its own, and every client and Orchestrator a test
// makes is closed by its end. The rest of this file holds the helpers the
// tests share.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// topic is the source topic of every test.
const topic = "events"

// service is the DLQ's service name: its file folder is DIR/service.
const service = "consumer"

// startBroker starts a kfake broker over TCP holding topic with the given
// number of partitions.
func startBroker(t *testing.T, partitions int) *kafkatest.Broker {
	t.Helper()
	return kafkatest.StartInProcess(t, kfake.SeedTopics(int32(partitions), topic))
}

// produce writes records from to n-1 to topic, record i to partition
// i % partitions with the value "i", so that a record's number and its
// place are known: after produce(0, k) and produce(k, n) with k a multiple
// of partitions, record i is at offset i / partitions.
func produce(t testing.TB, addr string, partitions, from, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1<<20))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const chunk = 10000
	for ; from < n; from += chunk {
		recs := make([]*kgo.Record, 0, chunk)
		for i := from; i < min(n, from+chunk); i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte(strconv.Itoa(i))})
		}
		require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	}
}

// seq is the number produce gave rec.
func seq(t testing.TB, rec *kgo.Record) int {
	n, err := strconv.Atoi(string(rec.Value))
	if err != nil {
		t.Errorf("record %s/%d@%d: value %q is not a number", rec.Topic, rec.Partition, rec.Offset, rec.Value)
	}
	return n
}

// newClient returns a group consumer of topic as the Consumer needs it,
// closed when the test ends.
func newClient(t testing.TB, addr, group string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(), kgo.FetchMaxWait(100 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(opts...)
	require.NoError(t, err)
	t.Cleanup(cl.CloseAllowingRebalance) // Close would wait for the rebalance the last Poll blocks
	return cl
}

// newDLQ returns an Orchestrator writing to the file backend in dir,
// closed when the test ends.
func newDLQ(t testing.TB, cfg dlq.Config) *dlq.Orchestrator {
	t.Helper()
	cfg.Service = service
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	o, err := dlq.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = o.Close(ctx)
	})
	return o
}

// newConsumer returns a Consumer over cl and o.
func newConsumer(t testing.TB, cl *kgo.Client, o *dlq.Orchestrator, opts dlqkgo.Options) *dlqkgo.Consumer {
	t.Helper()
	c, err := dlqkgo.New(cl, o, opts)
	require.NoError(t, err)
	return c
}

// place is a record's partition and offset.
type place struct {
	partition int32
	offset    int64
}

func (p place) String() string { return fmt.Sprintf("%d@%d", p.partition, p.offset) }

// deadLetters reads the DLQ folder dir/service with dlq.Reader, as an
// operator would, and returns each dead letter's source place and how many
// times it is there.
func deadLetters(t testing.TB, dir string) map[place]int {
	t.Helper()
	r, err := dlq.OpenReader(filepath.Join(dir, service), dlq.ReaderOptions{})
	require.NoError(t, err)
	got := map[place]int{}
	for rec, err := range r.All(context.Background()) {
		require.NoError(t, err)
		s := rec.Entry.Source
		require.True(t, s.Topic == topic && s.HasPartition && s.HasOffset, "a dead letter without its source: %+v", s)
		got[place{s.Partition, s.Offset}]++
	}
	return got
}

// committed returns the group's committed offset of each of topic's
// partitions, as the broker answers an OffsetFetch (-1: none).
func committed(t testing.TB, addr, group string, partitions int) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rgt := kmsg.NewOffsetFetchRequestGroupTopic()
	rgt.Topic = topic
	for p := range int32(partitions) {
		rt.Partitions = append(rt.Partitions, p)
		rgt.Partitions = append(rgt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	rg.Topics = append(rg.Topics, rgt)
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	out := map[int32]int64{}
	for p := range int32(partitions) {
		out[p] = -1
	}
	note := func(p int32, offset int64, code int16) {
		require.Zero(t, code, "OffsetFetch of %s/%d", topic, p)
		out[p] = offset
	}
	for _, g := range resp.Groups {
		if g.ErrorCode == kerr.GroupIDNotFound.Code {
			return out // a group that never committed
		}
		require.Zero(t, g.ErrorCode, "OffsetFetch of group %s", group)
		for _, rt := range g.Topics {
			for _, rp := range rt.Partitions {
				note(rp.Partition, rp.Offset, rp.ErrorCode)
			}
		}
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			note(rp.Partition, rp.Offset, rp.ErrorCode)
		}
	}
	return out
}

// endOffsets returns the offset after the last record of each of topic's
// partitions.
func endOffsets(partitions, n int) map[int32]int64 {
	out := map[int32]int64{}
	for i := range n {
		out[int32(i%partitions)]++
	}
	return out
}

// tally counts, by place, what a loop did with each record it was handed.
type tally struct {
	mu           sync.Mutex
	processed    map[place]int
	deadLettered map[place]int
	notDone      map[place]int
	polled       int      // records Poll returned, skipped ones included
	ahead        []string // records handed out after a record of their partition was not done
	commits      int      // Commits that returned nil
}

func newTally() *tally {
	return &tally{processed: map[place]int{}, deadLettered: map[place]int{}, notDone: map[place]int{}}
}

// handled reports whether every record of a topic of n records produced
// over partitions was processed or dead-lettered.
func (tl *tally) handled(partitions, n int) bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for p, end := range endOffsets(partitions, n) {
		for off := range end {
			pl := place{p, off}
			if tl.processed[pl] == 0 && tl.deadLettered[pl] == 0 {
				return false
			}
		}
	}
	return true
}

// loop is the loop of the package doc, counting what it does.
type loop struct {
	c      *dlqkgo.Consumer
	handle func(*kgo.Record) error // nil: processed
	// sendTimeout bounds each DeadLetter's wait for room; 0: the loop's ctx.
	sendTimeout time.Duration
	// beforeCommit, when set, is called before each Commit.
	beforeCommit func()
	// commitEvery commits after every commitEvery-th Poll; 0 after each.
	commitEvery int
	tally       *tally
}

// run polls, handles and commits until stop, called after each Commit
// with its error, returns true. It returns an error if ctx ends first or a
// call fails in a way the loop does not expect; it may run on any
// goroutine.
func (l *loop) run(ctx context.Context, stop func(commitErr error) bool) error {
	tl := l.tally
	for polls := 1; ; polls++ {
		fs := l.c.Poll(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("the loop did not finish: %w", err)
		}
		if fs.IsClientClosed() {
			return errors.New("the client was closed under the loop")
		}
		tl.mu.Lock()
		tl.polled += fs.NumRecords()
		tl.mu.Unlock()
		notDone := map[int32]int64{}
		for rec := range l.c.Records(fs) {
			pl := place{rec.Partition, rec.Offset}
			if at, ok := notDone[rec.Partition]; ok && rec.Offset > at {
				tl.mu.Lock()
				tl.ahead = append(tl.ahead, fmt.Sprintf("%v after %d", pl, at))
				tl.mu.Unlock()
			}
			if err := l.handle(rec); err != nil {
				dctx, cancel := ctx, context.CancelFunc(func() {})
				if l.sendTimeout > 0 {
					dctx, cancel = context.WithTimeout(ctx, l.sendTimeout)
				}
				err := l.c.DeadLetter(dctx, rec, err)
				cancel()
				tl.mu.Lock()
				if err == nil {
					tl.deadLettered[pl]++
				} else {
					tl.notDone[pl]++
				}
				tl.mu.Unlock()
				if err != nil {
					if !errors.Is(err, dlqkgo.ErrNotDone) {
						return fmt.Errorf("DeadLetter: an error that is not ErrNotDone: %w", err)
					}
					if _, ok := notDone[rec.Partition]; !ok {
						notDone[rec.Partition] = rec.Offset
					}
				}
				continue
			}
			l.c.Done(rec)
			tl.mu.Lock()
			tl.processed[pl]++
			tl.mu.Unlock()
		}
		if l.commitEvery > 1 && polls%l.commitEvery != 0 {
			continue
		}
		if l.beforeCommit != nil {
			l.beforeCommit()
		}
		err := l.c.Commit(ctx)
		if err == nil {
			tl.mu.Lock()
			tl.commits++
			tl.mu.Unlock()
		}
		if stop(err) {
			return nil
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
