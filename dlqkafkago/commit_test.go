package dlqkafkago_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkafkago"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// failAt fails the messages at the given offsets.
func failAt(offsets ...int64) func(kafka.Message) error {
	return func(m kafka.Message) error {
		for _, o := range offsets {
			if m.Offset == o {
				return fmt.Errorf("offset %d: not valid JSON", m.Offset)
			}
		}
		return nil
	}
}

// fetchAll fetches n messages.
func fetchAll(ctx context.Context, t testing.TB, c *dlqkafkago.Consumer, n int) []kafka.Message {
	t.Helper()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		m, err := c.Fetch(ctx)
		require.NoError(t, err)
		msgs[i] = m
	}
	return msgs
}

// TestCommitWaitsForMessagesInFlight: messages processed out of order (by
// workers) are committed only up to the first one not finished.
func TestCommitWaitsForMessagesInFlight(t *testing.T) {
	b := kafkatest.StartInProcess(t)
	produce(t, b, "events", 1, 10, numbered)
	o := newDLQ(t, t.TempDir(), dlq.Config{})
	c, err := dlqkafkago.New(newReader(t, b, "events", "g"), o, dlqkafkago.Options{})
	require.NoError(t, err)
	ctx := deadline(t, time.Minute)

	msgs := fetchAll(ctx, t, c, 10)
	for _, i := range []int{9, 0, 1, 5, 2, 3, 8, 6, 7} { // 4 is still in a worker
		c.Done(msgs[i])
	}
	require.NoError(t, c.Commit(ctx))
	assert.Equal(t, []int64{4}, committed(t, b, "g", "events", 1), "committed up to the message in flight")
	c.Done(msgs[4])
	require.NoError(t, c.Commit(ctx))
	assert.Equal(t, []int64{10}, committed(t, b, "g", "events", 1))
}

// TestCommitFollowsTheDLQ: with the file backend on a full disk, the
// commit stays at the first message whose dead letter is not durable;
// given room, it goes on.
func TestCommitFollowsTheDLQ(t *testing.T) {
	b := kafkatest.StartInProcess(t)
	produce(t, b, "events", 1, 200, numbered)
	disk := testenv.MountTmpfs(t, 64<<10)
	o := newDLQ(t, disk.Dir, dlq.Config{Retry: dlq.RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}})
	c, err := dlqkafkago.New(newReader(t, b, "events", "g"), o, dlqkafkago.Options{})
	require.NoError(t, err)
	ctx := deadline(t, 2*time.Minute)

	free := disk.Fill()
	handle := failAt(50, 120, 150)
	for _, m := range fetchAll(ctx, t, c, 200) {
		if err := handle(m); err != nil {
			require.NoError(t, c.DeadLetter(ctx, m, err), "the DLQ accepts it: its queue has room")
		} else {
			c.Done(m)
		}
	}
	for range 2 {
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err = c.Commit(short)
		cancel()
		require.ErrorIs(t, err, dlq.ErrNotWritten, "the disk is full: the dead letters are not durable")
		assert.Equal(t, []int64{50}, committed(t, b, "g", "events", 1), "committed up to the first dead letter not durable")
	}

	free()
	require.NoError(t, c.Commit(ctx))
	assert.Equal(t, []int64{200}, committed(t, b, "g", "events", 1), "the disk has room: the commit goes on")
	inDLQ, _ := readDLQ(t, disk.Dir)
	assert.Len(t, inDLQ, 3)
	for _, off := range []int64{50, 120, 150} {
		assert.Contains(t, inDLQ, off)
	}
}

// TestCommitOffersLostDeadLettersAgain: dead letters the DLQ gave up on
// (Retry.MaxAttempts spent on a full disk) are never committed past; the
// Consumer holds them again and Fetch offers them again, and once the
// disk has room they are written and the commit goes on.
func TestCommitOffersLostDeadLettersAgain(t *testing.T) {
	b := kafkatest.StartInProcess(t)
	produce(t, b, "events", 1, 21, numbered)
	disk := testenv.MountTmpfs(t, 64<<10)
	o := newDLQ(t, disk.Dir, dlq.Config{Retry: dlq.RetryConfig{MaxAttempts: 2, InitialBackoffMS: 1, MaxBackoffMS: 2}})
	c, err := dlqkafkago.New(newReader(t, b, "events", "g"), o, dlqkafkago.Options{})
	require.NoError(t, err)
	ctx := deadline(t, 2*time.Minute)

	free := disk.Fill()
	handle := failAt(5, 15)
	for _, m := range fetchAll(ctx, t, c, 20) {
		if err := handle(m); err != nil {
			require.NoError(t, c.DeadLetter(ctx, m, err))
		} else {
			c.Done(m)
		}
	}
	err = c.Commit(ctx)
	require.ErrorIs(t, err, dlq.ErrLost)
	assert.Equal(t, []int64{5}, committed(t, b, "g", "events", 1), "not past the lost dead letter")
	assert.Equal(t, 2, c.Stats().Held, "both held again")

	free()
	m, err := c.Fetch(ctx) // offers the held ones, then fetches
	require.NoError(t, err)
	assert.Equal(t, int64(20), m.Offset)
	c.Done(m)
	require.NoError(t, c.Commit(ctx))
	assert.Equal(t, []int64{21}, committed(t, b, "g", "events", 1))
	inDLQ, _ := readDLQ(t, disk.Dir)
	assert.Contains(t, inDLQ, int64(5))
	assert.Contains(t, inDLQ, int64(15))
	assert.Equal(t, uint64(4), c.Stats().DeadLetters, "each dead letter accepted twice")
}

// crashCycles is how many times TestCommitSurvivesSIGKILL kills its child.
const crashCycles = 10

// crashRecords and crashFails: the topic of the crash test, and which of
// its records fail.
const crashRecords = 20_000

func crashFails(offset int64) bool { return offset%7 == 3 }

// TestCommitSurvivesSIGKILL kills a consumer with SIGKILL at random
// moments, ten times, and restarts it. After each kill every failed record
// before the committed offset is in the DLQ (read with dlq.Reader): none
// is only committed. A last run reads to the end; then every failed record
// is in the DLQ, dead-lettered before a kill or read again and
// dead-lettered after it.
func TestCommitSurvivesSIGKILL(t *testing.T) {
	// A killed member leaves the group when its session times out: 1 s.
	b := kafkatest.StartInProcess(t, kfake.GroupMinSessionTimeout(time.Second))
	produce(t, b, "events", 1, crashRecords, numbered)
	dir := t.TempDir()
	var commits []int64
	for cycle := range crashCycles {
		runCrashChild(t, b.Addr, dir, cycle)
		at := committed(t, b, "g", "events", 1)[0]
		commits = append(commits, at)
		inDLQ, _ := readDLQ(t, dir)
		for off := int64(0); off < at; off++ {
			if _, ok := inDLQ[off]; crashFails(off) && !ok {
				t.Fatalf("after kill %d: failed record %d committed (offset %d) but not in the DLQ", cycle+1, off, at)
			}
		}
	}

	// The last run, to the end.
	o := newDLQ(t, dir, dlq.Config{})
	r := newReader(t, b, "events", "g")
	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{})
	require.NoError(t, err)
	ctx := deadline(t, 5*time.Minute)
	from := commits[len(commits)-1]
	consume(ctx, t, c, crashRecords-int(from), 500, func(m kafka.Message) error {
		if crashFails(m.Offset) {
			return errors.New("not valid JSON")
		}
		return nil
	})
	require.NoError(t, r.Close())
	require.NoError(t, o.Close(ctx))
	assert.Equal(t, []int64{crashRecords}, committed(t, b, "g", "events", 1))

	inDLQ, dups := readDLQ(t, dir)
	failed := 0
	for off := int64(0); off < crashRecords; off++ {
		_, ok := inDLQ[off]
		if crashFails(off) {
			failed++
			require.True(t, ok, "failed record %d is not in the DLQ", off)
		} else {
			require.False(t, ok, "record %d did not fail, yet is in the DLQ", off)
		}
	}
	t.Logf("%d kills, committed offsets after each: %v; %d failed records all in the DLQ, %d of them twice (read again after a kill)",
		crashCycles, commits, failed, dups)
}

// runCrashChild runs the consumer in a child process and kills it with
// SIGKILL after a random number of its commits and a random pause.
func runCrashChild(t *testing.T, broker, dir string, cycle int) {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^TestCommitCrashChild$")
	child.Env = append(os.Environ(), "DLQKAFKAGO_CRASH_BROKER="+broker, "DLQKAFKAGO_CRASH_DIR="+dir)
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	killAfter := 1 + rand.IntN(4) // commits
	lines := bufio.NewScanner(stdout)
	seen, killed := 0, false
	for lines.Scan() {
		if !strings.HasPrefix(lines.Text(), "committed ") {
			continue
		}
		if seen++; seen == killAfter {
			time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond) // a random moment of the loop
			require.NoError(t, child.Process.Kill())
			killed = true
			break
		}
	}
	_ = child.Wait()
	require.True(t, killed, "cycle %d: the child ended before its kill: see its stderr", cycle)
}

// TestCommitCrashChild is the child of TestCommitSurvivesSIGKILL: a
// consumer whose handler fails every record crashFails names, committing
// every 50 to 300 records, until it is killed.
func TestCommitCrashChild(t *testing.T) {
	broker := os.Getenv("DLQKAFKAGO_CRASH_BROKER")
	if broker == "" {
		t.Skip("runs as a child of TestCommitSurvivesSIGKILL")
	}
	o, err := dlq.New(dlq.Config{Service: "consumer", File: dlq.FileConfig{Dir: os.Getenv("DLQKAFKAGO_CRASH_DIR")}})
	require.NoError(t, err)
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, GroupID: "g", Topic: "events",
		MaxWait: time.Second, StartOffset: kafka.FirstOffset,
		SessionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond, RebalanceTimeout: time.Second,
		JoinGroupBackoff: 100 * time.Millisecond})
	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{})
	require.NoError(t, err)
	ctx := context.Background()
	every := 50 + rand.IntN(250)
	for n := 1; ; n++ {
		m, err := c.Fetch(ctx)
		require.NoError(t, err)
		if crashFails(m.Offset) {
			require.NoError(t, c.DeadLetter(ctx, m, errors.New("not valid JSON")))
		} else {
			c.Done(m)
		}
		if n%every == 0 {
			require.NoError(t, c.Commit(ctx))
			fmt.Println("committed", strconv.FormatInt(m.Offset, 10))
		}
	}
}
