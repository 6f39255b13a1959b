package dlqkgo_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkgo"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// firstFailures returns the offset of the first failed record of each
// partition among places.
func firstFailures(places map[place]int) map[int32]int64 {
	first := map[int32]int64{}
	for pl := range places {
		if f, ok := first[pl.partition]; !ok || pl.offset < f {
			first[pl.partition] = pl.offset
		}
	}
	return first
}

// TestCommitFollowsTheDLQOnAFullDisk: the file backend's disk fills up
// after a first part of the topic was processed and committed. The loop
// goes on reading and dead-lettering (the queue takes the dead letters),
// but each partition's commit stays at its first record whose dead letter
// is not durable, the records before it committed. Once the disk has
// room, the commits go on to the end, every failed record in the DLQ.
func TestCommitFollowsTheDLQOnAFullDisk(t *testing.T) {
	const partitions, before, n = 3, 300, 900
	b := startBroker(t, partitions)
	disk := testenv.MountTmpfs(t, 64<<10)
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: disk.Dir},
		Retry: dlq.RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}})
	handle := func(rec *kgo.Record) error {
		if i := seq(t, rec); i >= before && i%5 == 2 {
			return errParse
		}
		return nil
	}
	l := &loop{c: newConsumer(t, newClient(t, b.Addr, "g"), o, dlqkgo.Options{MaxPollRecords: 100, FlushTimeout: 50 * time.Millisecond}),
		handle: handle, tally: newTally()}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// The first records all succeed, and are committed.
	produce(t, b.Addr, partitions, 0, before)
	require.NoError(t, l.run(ctx, func(err error) bool { return err == nil && l.tally.handled(partitions, before) }))
	require.Equal(t, endOffsets(partitions, before), committed(t, b.Addr, "g", partitions))

	// The disk fills; the rest of the topic arrives, with failures.
	free := disk.Fill()
	produce(t, b.Addr, partitions, before, n)
	commitFailures := 0
	require.NoError(t, l.run(ctx, func(err error) bool {
		if err != nil {
			require.ErrorIs(t, err, dlq.ErrNotWritten, "the disk is full")
			commitFailures++
		}
		return l.tally.handled(partitions, n) && commitFailures >= 2
	}))
	want := failing(t, partitions, n, handle)
	first := firstFailures(want)
	require.Len(t, first, partitions)
	got := committed(t, b.Addr, "g", partitions)
	for p := range int32(partitions) {
		assert.Equal(t, first[p], got[p], "partition %d: the commit stays at the first record whose dead letter is not durable", p)
		assert.GreaterOrEqual(t, got[p], int64(before/partitions), "partition %d: the records before it are committed", p)
	}
	assert.Empty(t, deadLetters(t, disk.Dir))

	// Room again: the commits go on (every record is read: the loop
	// would wait in Poll).
	free()
	for err := l.c.Commit(ctx); err != nil; err = l.c.Commit(ctx) {
		require.ErrorIs(t, err, dlq.ErrNotWritten)
		require.NoError(t, ctx.Err(), "the commits did not go on")
	}
	assert.Equal(t, endOffsets(partitions, n), committed(t, b.Addr, "g", partitions))
	assert.Equal(t, want, deadLetters(t, disk.Dir))
	assert.Empty(t, l.tally.notDone)
}

// TestCommitReadsAgainWhatTheDLQLost: on a full disk with
// Retry.MaxAttempts set, the DLQ loses dead letters. Commit cannot know
// whose: it commits no partition past its first dead letter not known
// durable, and the loop reads the partitions again from there. Once the
// disk has room, every failed record is in the DLQ and the offsets reach
// the end. Also when another Flush of the same Orchestrator took the
// report of the loss: Commit looks at Stats.Lost.
func TestCommitReadsAgainWhatTheDLQLost(t *testing.T) {
	for _, test := range []struct {
		name        string
		flushAround bool // another Flush before each Commit, taking ErrLost
	}{
		{"its Flush reports the loss", false},
		{"another Flush took the report", true},
	} {
		t.Run(test.name, func(t *testing.T) {
			const partitions, n = 3, 300
			b := startBroker(t, partitions)
			produce(t, b.Addr, partitions, 0, n)
			disk := testenv.MountTmpfs(t, 64<<10)
			o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: disk.Dir},
				Retry: dlq.RetryConfig{MaxAttempts: 2, InitialBackoffMS: 1, MaxBackoffMS: 2}})
			free := disk.Fill()
			handle := failEvery(t, 4, 1)
			l := &loop{c: newConsumer(t, newClient(t, b.Addr, "g"), o, dlqkgo.Options{MaxPollRecords: 40, FlushTimeout: 50 * time.Millisecond}),
				handle: handle, tally: newTally()}
			var othersLost int
			if test.flushAround {
				l.beforeCommit = func() {
					ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
					defer cancel()
					if errors.Is(o.Flush(ctx), dlq.ErrLost) {
						othersLost++
					}
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			lostCommits := 0
			require.NoError(t, l.run(ctx, func(err error) bool {
				if errors.Is(err, dlq.ErrLost) {
					lostCommits++
				}
				return lostCommits >= 3
			}))
			want := failing(t, partitions, n, handle)
			first := firstFailures(want)
			for p, off := range committed(t, b.Addr, "g", partitions) {
				assert.LessOrEqual(t, off, first[p], "partition %d: committed no further than its first failed record", p)
			}
			if test.flushAround {
				assert.Positive(t, othersLost, "the other Flush took reports of losses")
			}

			free()
			end := endOffsets(partitions, n)
			require.NoError(t, l.run(ctx, func(err error) bool {
				return err == nil && maps.Equal(end, committed(t, b.Addr, "g", partitions))
			}))
			dead := deadLetters(t, disk.Dir)
			for pl := range want {
				assert.NotZero(t, dead[pl], "%v failed: it is in the DLQ", pl)
			}
			for pl := range dead {
				assert.NotZero(t, want[pl], "%v did not fail", pl)
			}
			t.Logf("%d dead letters lost and made again; %d commits reported a loss", o.Stats().Lost, lostCommits)
		})
	}
}

// crashes is how many times TestCommitSurvivesSIGKILL kills its consumer.
const crashes = 10

// TestCommitSurvivesSIGKILL: a consumer (a child process running the loop)
// is killed with SIGKILL at random moments, 10 times, and started again
// each time. After each kill, every failed record below a committed offset
// is in the DLQ: none is only committed. At the end every failed record is
// in the DLQ (dead-lettered before the kill, or read again from the source
// and dead-lettered then), and the offsets are committed to the end.
func TestCommitSurvivesSIGKILL(t *testing.T) {
	b := startBroker(t, crashPartitions)
	produce(t, b.Addr, crashPartitions, 0, crashRecords)
	dir := t.TempDir()
	const partitions, n = crashPartitions, crashRecords
	want := failing(t, partitions, n, crashHandle(t))
	for cycle := range crashes {
		if done := runCommitChild(t, b.Addr, dir, true); done {
			t.Fatalf("cycle %d: the child read the whole topic before its kill", cycle)
		}
		got, dead := committed(t, b.Addr, "crash", partitions), deadLetters(t, dir)
		for pl := range want {
			if pl.offset < got[pl.partition] && dead[pl] == 0 {
				t.Errorf("cycle %d: %v committed (offset %d) but not in the DLQ", cycle, pl, got[pl.partition])
			}
		}
		t.Logf("cycle %d: committed %v, %d dead letters", cycle, got, len(dead))
	}
	require.True(t, runCommitChild(t, b.Addr, dir, false), "the last child reads to the end")
	assert.Equal(t, endOffsets(partitions, n), committed(t, b.Addr, "crash", partitions))
	dead := deadLetters(t, dir)
	extra := 0
	for pl := range want {
		assert.NotZero(t, dead[pl], "%v failed and is not in the DLQ", pl)
		extra += max(dead[pl]-1, 0)
	}
	for pl := range dead {
		assert.NotZero(t, want[pl], "%v is in the DLQ but did not fail", pl)
	}
	t.Logf("%d failed records, %d dead letters written twice (dead-lettered, killed before the commit, read again)", len(want), extra)
}

// The topic of TestCommitSurvivesSIGKILL.
const crashPartitions, crashRecords = 3, 9000

// crashHandle fails one record in ten.
func crashHandle(t testing.TB) func(*kgo.Record) error { return failEvery(t, 10, 3) }

// runCommitChild runs TestCommitChild and, when kill is set, kills it with
// SIGKILL after a random number of its commits (1 to 3) and a random
// moment of up to 2 ms after that (the child commits 20 records at a
// time, some 50 records a millisecond). It reports whether the child read the topic to the
// end.
func runCommitChild(t *testing.T, addr, dir string, kill bool) (done bool) {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^TestCommitChild$")
	child.Env = append(os.Environ(), "DLQKGO_CRASH_ADDR="+addr, "DLQKGO_CRASH_DIR="+dir)
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	killAfter, commits := 1+rand.IntN(3), 0
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		switch lines.Text() {
		case "committed":
			commits++
			if kill && commits == killAfter {
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				require.NoError(t, child.Process.Kill())
			}
		case "done":
			done = true
		}
	}
	err = child.Wait()
	if !kill {
		require.NoError(t, err, "the child failed: see its stderr")
	}
	return done
}

// TestCommitChild is the child of TestCommitSurvivesSIGKILL: the loop of
// the package doc, 20 records a Poll, a Commit after each, reporting each
// Commit that returned nil on stdout, until every partition is committed
// to its end ("done": at once if it is already).
func TestCommitChild(t *testing.T) {
	addr, dir := os.Getenv("DLQKGO_CRASH_ADDR"), os.Getenv("DLQKGO_CRASH_DIR")
	if addr == "" {
		t.Skip("runs as a child of TestCommitSurvivesSIGKILL")
	}
	const partitions, n = crashPartitions, crashRecords
	end := endOffsets(partitions, n)
	if maps.Equal(end, committed(t, addr, "crash", partitions)) {
		fmt.Println("done") // Poll would wait for ever
		return
	}
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir}})
	// A static member: the next child takes the killed one's place at
	// once, without waiting for its session to time out.
	cl := newClient(t, addr, "crash", kgo.InstanceID("child"))
	l := &loop{c: newConsumer(t, cl, o, dlqkgo.Options{MaxPollRecords: 20}), handle: crashHandle(t), tally: newTally()}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, l.run(ctx, func(err error) bool {
		if err != nil {
			return false
		}
		fmt.Println("committed")
		l.tally.mu.Lock()
		defer l.tally.mu.Unlock()
		for p, e := range end {
			last := place{p, e - 1}
			if l.tally.processed[last] == 0 && l.tally.deadLettered[last] == 0 {
				return false
			}
		}
		return true
	}))
	fmt.Println("done")
}
