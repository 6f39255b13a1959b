package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/require"
)

// The golden files under testdata/golden hold what each command printed
// on goldenFolder before the fast read path (issue 21): made by running
// this file's test with -update in a worktree of the code before it.
var updateGolden = flag.Bool("update", false, "rewrite testdata/golden with what the commands print now")

var goldenBase = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

// goldenID is a UUIDv7 text for ms, its random bits from rng.
func goldenID(rng *rand.Rand, ms int64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16|rng.Uint64()&0x0fff|0x7000)
	binary.BigEndian.PutUint64(b[8:], rng.Uint64()&^(3<<62)|2<<62)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// goldenEntry is entry i of service svc: nine reasons, error texts with
// ids, numbers and quotes, JSON payloads of 200 to 1200 bytes (one in
// eight binary), and keys, headers, metadata and sources on most.
func goldenEntry(rng *rand.Rand, svc string, i int, at time.Time) dlq.Entry {
	reasons := []string{"parse_error", "schema_mismatch", "timeout", "poison", "downstream_5xx", "auth_failed", "too_large", "duplicate", "validation"}
	r := rng.IntN(len(reasons))
	var errText string
	switch r % 5 {
	case 0:
		errText = fmt.Sprintf(`unexpected token '%c' at offset %d in "items[%d]"`, 'a'+rng.IntN(26), rng.IntN(3000), rng.IntN(40))
	case 1:
		errText = fmt.Sprintf("call to 10.0.%d.%d:5432 timed out after %ds", rng.IntN(256), rng.IntN(256), rng.IntN(60))
	case 2:
		errText = fmt.Sprintf("charge ch_%dPq%dX failed: card_declined (attempt %d)", rng.IntN(256), rng.IntN(256), rng.IntN(60))
	case 3:
		errText = fmt.Sprintf(`field "amount" is not a number: "x%d.%d EUR"`, rng.IntN(9999), rng.IntN(99))
	}
	e := dlq.Entry{Timestamp: at, Service: svc, Reason: reasons[r], Error: errText, Attempts: 1 + rng.IntN(5),
		Destination: fmt.Sprintf("acme.t%d", rng.IntN(4)), ID: goldenID(rng, at.UnixMilli())}
	n := 200 + rng.IntN(1000)
	if rng.IntN(8) == 0 {
		e.Payload = make([]byte, n)
		for j := range e.Payload {
			e.Payload[j] = byte(rng.Uint32())
		}
	} else {
		var b strings.Builder
		fmt.Fprintf(&b, `{"seq":%d,"note":"tab\there \"q\" ü","items":[`, i)
		for b.Len() < n {
			fmt.Fprintf(&b, `{"sku":%d},`, rng.IntN(1e6))
		}
		b.WriteString(`{}]}`)
		e.Payload = []byte(b.String())
	}
	if rng.IntN(10) < 7 {
		e.Key = fmt.Appendf(nil, "user-%d", rng.IntN(1000))
		e.Headers = []dlq.Header{{Key: "traceparent", Value: fmt.Appendf(nil, "00-%016x-01", rng.Uint64())}, {Key: "bin", Value: []byte{0, 0xff, byte(i)}}}
		e.Metadata = map[string]string{"host": fmt.Sprintf("h%d", rng.IntN(3)), "note": "a \"b\" é\U0001F600"}
	}
	if rng.IntN(3) > 0 {
		e.Source = dlq.KafkaSource("events", int32(rng.IntN(3)), int64(rng.IntN(1e6)))
	}
	return e
}

// goldenFolder writes, through the library, the same folder every time:
// service loader rotated by size (gzipped, then plain) with its live file
// ending in a torn line, and service ingest with one foreign line. The
// writer's clock stays still while a phase of entries is written, so that
// the rotated files' names do not depend on the drain's timing.
func goldenFolder(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(21, 21))
	var clock atomic.Int64
	open := func(svc string, compress bool) *dlq.Orchestrator {
		o, err := dlq.New(dlq.Config{Service: svc, BatchSize: 64,
			File:  dlq.FileConfig{Dir: root, Rotation: "size", MaxSizeMB: 1, Compress: compress, SyncIntervalMS: 3600000},
			Clock: func() time.Time { return time.UnixMilli(clock.Load()).UTC() }})
		require.NoError(t, err)
		return o
	}
	at := goldenBase
	write := func(o *dlq.Orchestrator, svc string, from, to int) {
		for phase := from; phase < to; phase += 250 {
			clock.Store(at.Add(250 * 30 * time.Second).UnixMilli()) // past every entry of the phase
			for i := phase; i < min(phase+250, to); i++ {
				at = at.Add(time.Duration(10+rng.IntN(20)) * time.Second)
				require.NoError(t, o.SendContext(t.Context(), goldenEntry(rng, svc, i, at)))
			}
			require.NoError(t, o.Flush(t.Context()))
		}
	}
	o := open("loader", true)
	write(o, "loader", 0, 2500)
	require.NoError(t, o.Close(t.Context()))
	o = open("loader", false)
	write(o, "loader", 2500, 3600)
	require.NoError(t, o.Close(t.Context()))
	appendText(t, filepath.Join(root, "loader", "dlq.ndjson"), `{"timestamp":1768450000000,"service":"loader","rea`)
	o = open("ingest", true)
	write(o, "ingest", 0, 40)
	require.NoError(t, o.Close(t.Context()))
	appendText(t, filepath.Join(root, "ingest", "dlq.ndjson"),
		`{"timestamp": 1768450000000, "service":"ingest","reason":"spaced","attempts":0,"payload":"e\/A=","id":"x-1"}`+"\n")
	return root
}

// goldenIDs returns some ids of dir/loader's entries: the first of its
// oldest file, one in the middle, and the last.
func goldenIDs(t *testing.T, loader string) []string {
	t.Helper()
	var ids []string
	r, err := dlq.OpenReader(loader, dlq.ReaderOptions{})
	require.NoError(t, err)
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		ids = append(ids, rec.Entry.ID)
	}
	require.Len(t, ids, 3600)
	return []string{ids[0], ids[1234], ids[3599]}
}

// postRecorder is an HTTP target that writes down each request.
type postRecorder struct {
	mu  sync.Mutex
	log strings.Builder
}

func (p *postRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintf(&p.log, "%s %s\n", r.Method, r.URL.Path)
	for _, k := range keys {
		fmt.Fprintf(&p.log, "%s: %q\n", k, r.Header[k])
	}
	fmt.Fprintf(&p.log, "body %d bytes, sha256 %x\n", len(body), sha256.Sum256(body))
}

// copiedLines returns the envelope lines under dir, sorted.
func copiedLines(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".ndjson") {
			return err
		}
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			require.NoError(t, err)
			data, err = io.ReadAll(zr)
			require.NoError(t, err)
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(path))
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			lines = append(lines, rel+" "+line)
		}
		return nil
	}))
	slices.Sort(lines)
	var b strings.Builder
	for _, line := range lines {
		fmt.Fprintf(&b, "%s sha256 %x\n", line[:strings.IndexByte(line, ' ')], sha256.Sum256([]byte(line)))
	}
	return b.String()
}

func TestCommandsPrintWhatTheyPrinted(t *testing.T) {
	root := goldenFolder(t)
	loader := filepath.Join(root, "loader")
	ids := goldenIDs(t, loader)
	archives, err := filepath.Glob(filepath.Join(loader, "dlq-*.ndjson.gz"))
	require.NoError(t, err)
	require.NotEmpty(t, archives)
	plain, err := filepath.Glob(filepath.Join(loader, "dlq-*.ndjson"))
	require.NoError(t, err)
	require.NotEmpty(t, plain)
	since := goldenBase.Add(14 * time.Hour).Format(time.RFC3339)
	until := goldenBase.Add(17 * time.Hour).Format(time.RFC3339)
	cases := []struct {
		name string
		args []string
	}{
		{"inspect", []string{"inspect", loader}},
		{"inspect-root", []string{"inspect", root}},
		{"inspect-json", []string{"inspect", "--json", root}},
		{"inspect-archive", []string{"inspect", archives[0]}},
		{"inspect-destination", []string{"inspect", "--group-by", "destination", loader}},
		{"inspect-service", []string{"inspect", "--group-by", "service", root}},
		{"inspect-source", []string{"inspect", "--group-by", "source", loader}},
		{"inspect-hour", []string{"inspect", "--group-by", "hour", "--json", loader}},
		{"inspect-fingerprint", []string{"inspect", "--group-by", "fingerprint", "--json", loader}},
		{"inspect-reasons", []string{"inspect", "--reason", "time*", "--reason", "poison", loader}},
		{"inspect-since", []string{"inspect", "--since", since, loader}},
		{"inspect-until", []string{"inspect", "--until", until, "--group-by", "hour", "--json", loader}},
		{"inspect-range", []string{"inspect", "--since", since, "--until", until, "--destination", "acme.t[13]", root}},
		{"inspect-id", []string{"inspect", "--id", ids[1], "--id", ids[2], loader}},
		{"inspect-service-filter", []string{"inspect", "--service", "ing*", root}},
		{"show-oldest", []string{"show", loader, ids[0]}},
		{"show-middle", []string{"show", root, ids[1]}},
		{"show-json", []string{"show", "--json", loader, ids[2]}},
		{"show-raw", []string{"show", "--raw", loader, ids[1]}},
		{"show-missing", []string{"show", loader, "0190e7c3-0000-7000-8000-000000000000"}},
		{"show-not-uuid", []string{"show", root, "x-1"}},
		{"tail", []string{"tail", loader}},
		{"tail-root", []string{"tail", "-n", "3", root}},
		{"tail-payload", []string{"tail", "-n", "25", "--payload", loader}},
		{"tail-json", []string{"tail", "-n", "4", "--json", loader}},
		{"tail-reason", []string{"tail", "-n", "7", "--reason", "poison", loader}},
		{"tail-since", []string{"tail", "-n", "0", "--since", goldenBase.Add(19 * time.Hour).Format(time.RFC3339), loader}},
		{"tail-id", []string{"tail", "--id", ids[0], "--id", ids[2], loader}},
		{"tail-all", []string{"tail", "-n", "0", "--until", goldenBase.Add(time.Hour).Format(time.RFC3339), root}},
		{"replay-dry-run", []string{"replay", "--dry-run", "--to", "http://127.0.0.1:1/x", "--reason", "parse_error", loader}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := newApp(&out, &errOut).Run(t.Context(), append([]string{"dlq"}, c.args...))
			checkGolden(t, c.name, root, c.args, out.String(), errOut.String(), err, "")
		})
	}
	t.Run("replay-http", func(t *testing.T) {
		rec := &postRecorder{}
		srv := httptest.NewServer(rec)
		defer srv.Close()
		args := []string{"replay", "--to", srv.URL + "/in", "--since", since, "--reason", "t*", "--reason", "poison", loader}
		var out, errOut bytes.Buffer
		err := newApp(&out, &errOut).Run(t.Context(), append([]string{"dlq"}, args...))
		rec.mu.Lock()
		posts := strings.ReplaceAll(rec.log.String(), srv.URL, "URL")
		rec.mu.Unlock()
		args[2] = "URL/in"
		checkGolden(t, "replay-http", root, args, strings.ReplaceAll(out.String(), srv.URL, "URL"), errOut.String(), err, posts)
	})
	t.Run("copy-file", func(t *testing.T) {
		to := t.TempDir()
		args := []string{"copy", "--to", "file://" + to, "--until", goldenBase.Add(2 * time.Hour).Format(time.RFC3339), root}
		var out, errOut bytes.Buffer
		err := newApp(&out, &errOut).Run(t.Context(), append([]string{"dlq"}, args...))
		args[2] = "file://TARGET"
		checkGolden(t, "copy-file", root, args, strings.ReplaceAll(out.String(), to, "TARGET"), errOut.String(), err, copiedLines(t, to))
	})
}

// checkGolden compares what a command printed with its golden file, the
// folder's path written as DIR, or rewrites the file with -update.
func checkGolden(t *testing.T, name, root string, args []string, stdout, stderr string, err error, extra string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "$ dlq %s\n--- stdout\n%s--- stderr\n%s--- error\n%v\n", strings.Join(args, " "), stdout, stderr, err)
	if extra != "" {
		fmt.Fprintf(&b, "--- received\n%s", extra)
	}
	got := strings.ReplaceAll(b.String(), root, "DIR")
	path := filepath.Join("testdata", "golden", name+".txt")
	if *updateGolden {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	require.Equal(t, string(want), got, "dlq %s", strings.Join(args, " "))
}
