package dlqkafkago_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkafkago"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The group test's topic: groupParts partitions of groupRecords(cycles)
// records each (the members read some 400 a partition a cycle); a record
// fails when groupFails names its offset (1 in 10).
const (
	groupParts  = 3
	groupCycles = 12
)

func groupRecordsFor(cycles int) int { return 2000 + 800*cycles }

func groupFails(offset int64) bool { return offset%10 == 7 }

// member is one consumer of the group, a child process running
// TestGroupMemberChild.
type member struct {
	id      int
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	commits chan struct{} // a value per "committed" line
	exited  chan struct{} // closed when its stdout ends
}

func startMember(t *testing.T, broker, dir string, id int, seed uint64) *member {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestGroupMemberChild$")
	cmd.Env = append(os.Environ(), "DLQKAFKAGO_GROUP_BROKER="+broker,
		"DLQKAFKAGO_GROUP_DIR="+filepath.Join(dir, fmt.Sprintf("member-%d", id)),
		"DLQKAFKAGO_GROUP_SEED="+strconv.FormatUint(seed, 10))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	m := &member{id: id, cmd: cmd, stdin: stdin, commits: make(chan struct{}, 1<<16), exited: make(chan struct{})}
	go func() {
		defer close(m.exited)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), "committed") {
				select {
				case m.commits <- struct{}{}:
				default:
				}
			}
		}
	}()
	return m
}

// waitCommits waits for n more commits of any of ms, and returns the
// index of the member that made the last.
func waitCommits(ctx context.Context, t *testing.T, ms []*member, n int, state func() string) int {
	t.Helper()
	last := -1
	for range n {
		cases := make([]reflect.SelectCase, 0, 2*len(ms)+1)
		for _, m := range ms {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(m.commits)},
				reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(m.exited)})
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
		i, _, _ := reflect.Select(cases)
		switch {
		case i == len(cases)-1:
			t.Fatalf("no commit of the members before the deadline: %s", state())
		case i%2 == 1:
			t.Fatalf("member %d ended: see its stderr", ms[i/2].id)
		}
		last = i / 2
	}
	return last
}

// groupState reads, in this order, the committed offsets, then what every
// member recorded as processed and every DLQ folder under dir: whatever
// was processed or dead-lettered before a commit is seen.
func groupState(t *testing.T, b *kafkatest.Broker, dir string) (at []int64, processed map[[2]int64]int, dead map[[2]int64]int) {
	t.Helper()
	at = committed(t, b, "g", "events", groupParts)
	processed, dead = map[[2]int64]int{}, map[[2]int64]int{}
	folders, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	for _, f := range folders {
		data, err := os.ReadFile(filepath.Join(f, "processed"))
		if !errors.Is(err, os.ErrNotExist) {
			require.NoError(t, err)
		}
		for line := range strings.Lines(string(data)) {
			var p, o int64
			if _, err := fmt.Sscanf(line, "%d %d\n", &p, &o); err == nil { // a torn last line is skipped
				processed[[2]int64{p, o}]++
			}
		}
		if _, err := os.Stat(filepath.Join(f, "consumer")); err != nil {
			continue
		}
		r, err := dlq.OpenReader(filepath.Join(f, "consumer"), dlq.ReaderOptions{})
		require.NoError(t, err)
		for rec, err := range r.All(t.Context()) {
			require.NoError(t, err)
			s := rec.Entry.Source
			require.True(t, s.HasOffset && s.HasPartition, "entry %s has a partition and an offset", rec.Entry.ID)
			dead[[2]int64{int64(s.Partition), s.Offset}]++
		}
	}
	return at, processed, dead
}

// checkGroup fails the test when a committed offset is past a record
// neither processed nor in a DLQ, and returns how many records were
// processed or dead-lettered more than once.
func checkGroup(t *testing.T, when string, at []int64, processed, dead map[[2]int64]int) (again int) {
	t.Helper()
	for p := range groupParts {
		for o := int64(0); o < at[p]; o++ {
			k := [2]int64{int64(p), o}
			if groupFails(o) {
				require.NotZero(t, dead[k], "%s: partition %d committed at %d, past failed record %d not in a DLQ", when, p, at[p], o)
				require.Zero(t, processed[k], "%s: failed record %d/%d recorded processed", when, p, o)
			} else {
				require.NotZero(t, processed[k], "%s: partition %d committed at %d, past record %d not processed", when, p, at[p], o)
				require.Zero(t, dead[k], "%s: record %d/%d did not fail, yet is in a DLQ", when, p, o)
			}
			again += max(dead[k], processed[k]) - 1
		}
	}
	return again
}

// TestGroupSurvivesRebalancesAndKills runs two or three members of a group
// over a topic of three partitions, and at seeded random moments kills one
// with SIGKILL, lets one leave, or adds one. After every change, every
// record below each committed offset is processed or in a DLQ (read with
// dlq.Reader, by Source partition and offset). A last member reads to the
// end; then every record is.
func TestGroupSurvivesRebalancesAndKills(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DLQKAFKAGO_GROUP_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (DLQKAFKAGO_GROUP_SEED=%d to run it again)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	cycles := groupCycles
	if s := os.Getenv("DLQKAFKAGO_GROUP_CYCLES"); s != "" {
		var err error
		cycles, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	groupRecords := groupRecordsFor(cycles)
	// A killed member leaves the group when its session times out: 1 s.
	b := kafkatest.StartInProcess(t, kfake.GroupMinSessionTimeout(time.Second))
	produce(t, b, "events", groupParts, groupParts*groupRecords, func(i int) kafka.Message {
		m := numbered(i)
		m.Partition = i % groupParts
		return m
	})
	dir := t.TempDir()
	ctx := deadline(t, 3*time.Minute)
	start := time.Now()

	next := 0
	var members []*member
	add := func() {
		members = append(members, startMember(t, b.Addr, dir, next, rng.Uint64()))
		next++
	}
	t.Cleanup(func() {
		for _, m := range members {
			_ = m.cmd.Process.Kill()
			_ = m.cmd.Wait()
		}
	})
	add()
	add()
	var log []string
	for cycle := range cycles {
		if cycle == 0 {
			// the group exists once a member joined
		} else if at := committed(t, b, "g", "events", groupParts); slices.Max(at) > int64(groupRecords-2000) {
			t.Logf("cycle %d: committed %v, near the end: no more cycles", cycle, at)
			break // the members would soon have nothing to read, and commit no more
		}
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		i := waitCommits(cctx, t, members, 1+rng.IntN(4), func() string {
			return fmt.Sprintf("cycle %d after %s: committed %v", cycle, strings.Join(log, ", "), committed(t, b, "g", "events", groupParts))
		})
		ccancel()
		m := members[i]
		time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond) // a random moment of its loop
		switch a := rng.IntN(10); {
		case a < 6:
			require.NoError(t, m.cmd.Process.Kill())
			_ = m.cmd.Wait()
			members = slices.Delete(members, i, i+1)
			log = append(log, fmt.Sprintf("kill %d", m.id))
		case a < 8:
			require.NoError(t, m.stdin.Close()) // it commits, closes its Reader and leaves
			require.NoError(t, m.cmd.Wait(), "member %d left with an error: see its stderr", m.id)
			members = slices.Delete(members, i, i+1)
			log = append(log, fmt.Sprintf("leave %d", m.id))
		default:
			log = append(log, "join")
		}
		for len(members) < 2 || (len(members) < 3 && len(log) > 0 && log[len(log)-1] == "join") {
			add()
		}
		at, processed, dead := groupState(t, b, dir)
		again := checkGroup(t, fmt.Sprintf("cycle %d (%s)", cycle, log[len(log)-1]), at, processed, dead)
		t.Logf("%s cycle %d: %s; committed %v; %d records again", time.Since(start).Round(time.Millisecond), cycle, log[len(log)-1], at, again)
	}
	for _, m := range members {
		require.NoError(t, m.cmd.Process.Kill())
		_ = m.cmd.Wait()
	}
	members = nil

	// The last member, in this process, reads to the end.
	at := committed(t, b, "g", "events", groupParts)
	left := 0
	for p := range groupParts {
		left += groupRecords - int(max(at[p], 0))
	}
	o := newDLQ(t, filepath.Join(dir, "last"), dlq.Config{})
	r := newReader(t, b, "events", "g")
	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{})
	require.NoError(t, err)
	f, err := os.Create(filepath.Join(dir, "last", "processed"))
	require.NoError(t, err)
	seen := map[[2]int64]bool{}
	for n := 0; n < left; {
		msg, err := c.Fetch(ctx)
		require.NoError(t, err, "fetched %d of %d", n, left)
		if k := [2]int64{int64(msg.Partition), msg.Offset}; !seen[k] {
			seen[k] = true
			n++
		}
		if groupFails(msg.Offset) {
			require.NoError(t, c.DeadLetter(ctx, msg, errors.New("not valid JSON")))
		} else {
			_, err := fmt.Fprintf(f, "%d %d\n", msg.Partition, msg.Offset)
			require.NoError(t, err)
			c.Done(msg)
		}
		if n%500 == 0 {
			require.NoError(t, c.Commit(ctx))
		}
	}
	require.NoError(t, c.Commit(ctx))
	require.NoError(t, f.Close())
	require.NoError(t, r.Close())
	require.NoError(t, o.Close(ctx))

	at, processed, dead := groupState(t, b, dir)
	require.Equal(t, []int64{int64(groupRecords), int64(groupRecords), int64(groupRecords)}, at, "the last member read to the end")
	again := checkGroup(t, "the end", at, processed, dead)
	t.Logf("%s; every record processed or in a DLQ, %d of them more than once", strings.Join(log, ", "), again)
}

// TestGroupMemberChild is a member of TestGroupSurvivesRebalancesAndKills:
// it records each record it processes (one write to the file "processed"
// before Done), dead-letters those groupFails names, and commits every 50
// to 300 records until killed, or until its stdin ends: then it commits,
// closes its Reader (leaving the group) and its DLQ.
func TestGroupMemberChild(t *testing.T) {
	broker := os.Getenv("DLQKAFKAGO_GROUP_BROKER")
	if broker == "" {
		t.Skip("runs as a child of TestGroupSurvivesRebalancesAndKills")
	}
	dir := os.Getenv("DLQKAFKAGO_GROUP_DIR")
	seed, err := strconv.ParseUint(os.Getenv("DLQKAFKAGO_GROUP_SEED"), 10, 64)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 2))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	f, err := os.Create(filepath.Join(dir, "processed"))
	require.NoError(t, err)
	o, err := dlq.New(dlq.Config{Service: "consumer", File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, GroupID: "g", Topic: "events",
		MaxWait: 100 * time.Millisecond, StartOffset: kafka.FirstOffset,
		SessionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond, RebalanceTimeout: time.Second,
		JoinGroupBackoff: 100 * time.Millisecond})
	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	every := 50 + rng.IntN(250)
	for n := 1; ; n++ {
		m, err := c.Fetch(ctx)
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
			break
		}
		if groupFails(m.Offset) {
			_ = c.DeadLetter(ctx, m, errors.New("not valid JSON")) // ErrNotDone when ctx ended: held
		} else {
			_, err := fmt.Fprintf(f, "%d %d\n", m.Partition, m.Offset)
			require.NoError(t, err)
			c.Done(m)
		}
		if n%every == 0 {
			if err := c.Commit(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "member commit:", err) // a rebalance under way: the next one tries again
			}
			fmt.Println("committed", m.Partition, m.Offset)
		}
	}
	last, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if err := c.Commit(last); err != nil {
		fmt.Fprintln(os.Stderr, "member last commit:", err)
	}
	require.NoError(t, r.Close())
	require.NoError(t, o.Close(last))
}
