package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile is what a producer could put in a field to drive the terminal
// of the operator who reads it: clear the screen, set the window title,
// ring the bell, go back over the line, a C1 CSI (U+009B), a bidi
// override, DEL and a byte that is not UTF-8.
const hostile = "\x1b[2J\x1b]0;owned\x07\rX\u009b31m\u202e\x7f\xff"

// hostileEntry has hostile in every field a command prints.
func hostileEntry() dlq.Entry {
	return dlq.Entry{Timestamp: fixtureTime, ID: "id" + hostile, Service: "svc" + hostile, Reason: "reason" + hostile,
		Error: "error " + hostile + ` "quoted` + hostile + `" 0xdead` + hostile, Attempts: 2, Destination: "dest" + hostile,
		Source:   dlq.KafkaSource("topic"+hostile, 3, 4),
		Metadata: map[string]string{"key" + hostile: "value" + hostile},
		Key:      []byte("k" + hostile), Headers: []dlq.Header{{Key: "header" + hostile, Value: []byte("v" + hostile)}},
		Payload: []byte("payload " + hostile)}
}

// requireTerminalSafe fails when out holds what a terminal would obey:
// invalid UTF-8, a control character other than newline and tab, or any
// other rune that is not printable.
func requireTerminalSafe(t *testing.T, out string) {
	t.Helper()
	for i, r := range out {
		if r == utf8.RuneError && !strings.HasPrefix(out[i:], "\uFFFD") {
			require.Failf(t, "invalid UTF-8 printed", "byte %#x at %d in\n%q", out[i], i, out)
		}
		if !unicode.IsPrint(r) && r != ' ' && r != '\n' && r != '\t' {
			require.Failf(t, "a rune a terminal obeys printed", "%U at %d in\n%q", r, i, out)
		}
	}
}

// writeHostile writes entries into dir/svc/dlq.ndjson as the library
// encodes them and returns the folder.
func writeHostile(t *testing.T, entries ...dlq.Entry) string {
	t.Helper()
	svc := filepath.Join(t.TempDir(), "svc")
	require.NoError(t, os.Mkdir(svc, 0o755))
	var b []byte
	for i := range entries {
		b = append(dlq.AppendEnvelope(b, &entries[i]), '\n')
	}
	require.NoError(t, os.WriteFile(filepath.Join(svc, "dlq.ndjson"), b, 0o644))
	return svc
}

func TestDisplayEscapesEveryField(t *testing.T) {
	e := hostileEntry()
	// A payload that is text but for a CR that does not end a line.
	overwrite := dlq.Entry{Timestamp: fixtureTime, ID: "overwrite", Service: "svc", Reason: "r", Payload: []byte("rm -rf /tmp/x\rls      \r\n")}
	svc := writeHostile(t, e, overwrite)
	// What the reader hands the command: the envelope has no room for
	// invalid UTF-8 in a string, so those bytes come back as U+FFFD.
	var want dlq.Entry
	for rec, err := range must(dlq.OpenReader(svc, dlq.ReaderOptions{})).All(t.Context()) {
		require.NoError(t, err)
		want = rec.Entry
		break
	}
	require.Equal(t, e.Payload, want.Payload)
	require.Contains(t, want.Source.Topic, "\x1b", "the source holds the escapes")

	// escaped is how the escapes read once escaped: the marks that a field
	// was printed, and printed safely.
	const escaped = `\x1b[2J\x1b]0;owned\a\rX\u009b31m\u202e\x7f`

	t.Run("show", func(t *testing.T) {
		out, err := run(t, "show", svc, want.ID)
		require.NoError(t, err)
		requireTerminalSafe(t, out)
		lines := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			label, _, _ := strings.Cut(line, ":")
			lines[label] += line
		}
		for _, label := range []string{"id", "service", "reason", "error", "destination", "source", "metadata", "header"} {
			assert.Contains(t, lines[label], escaped, "%s is printed, escaped", label)
		}
		assert.Contains(t, lines["source"], "source:      topic"+escaped+"\uFFFD partition 3 offset 4")
		assert.Contains(t, lines["metadata"], "metadata:    key"+escaped+"\uFFFD=value"+escaped)
		assert.Contains(t, lines["key"], "key:         0x6b1b5b", "a key that is not text is shown in hex")
		assert.Contains(t, out, "payload:     "+itoa(int64(len(e.Payload)))+" bytes, hex\n", "a payload with escapes is shown in hex")

		// A file's name is the position's, and anyone who can write the
		// folder names files.
		named := filepath.Join(t.TempDir(), "dlq"+hostile+".ndjson")
		require.NoError(t, os.WriteFile(named, must(os.ReadFile(filepath.Join(svc, "dlq.ndjson"))), 0o644))
		out, err = run(t, "show", named, want.ID)
		require.NoError(t, err)
		requireTerminalSafe(t, out)
		assert.Contains(t, out, "position:    dlq"+escaped)

		out, err = run(t, "show", svc, "overwrite")
		require.NoError(t, err)
		requireTerminalSafe(t, out)
		assert.Contains(t, out, "bytes, hex\n", "a CR that does not end a line would write over it")
	})
	t.Run("show --json", func(t *testing.T) {
		out, err := run(t, "show", "--json", svc, want.ID)
		require.NoError(t, err)
		requireTerminalSafe(t, out)
		got, err := dlq.ParseEnvelope([]byte(out))
		require.NoError(t, err)
		assert.Equal(t, want, got, "the envelope means what it meant")
	})
	t.Run("show --raw prints the payload exactly", func(t *testing.T) {
		out, err := run(t, "show", "--raw", svc, want.ID)
		require.NoError(t, err)
		assert.Equal(t, string(e.Payload), out)
	})
	t.Run("tail", func(t *testing.T) {
		for _, flag := range []string{"--lines=0", "--payload"} {
			out, err := run(t, "tail", flag, svc)
			require.NoError(t, err)
			requireTerminalSafe(t, out)
			first, _, _ := strings.Cut(out, "\n")
			assert.Equal(t, 7, strings.Count(first, escaped), "reason, service, destination, id, and the error's three: %s", first)
		}
	})
	t.Run("tail --json", func(t *testing.T) {
		out, err := run(t, "tail", "--json", svc)
		require.NoError(t, err)
		requireTerminalSafe(t, out)
		first, _, _ := strings.Cut(out, "\n")
		got, err := dlq.ParseEnvelope([]byte(first))
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
	for _, by := range []string{"reason", "destination", "service", "source", "fingerprint"} {
		t.Run("inspect --group-by "+by, func(t *testing.T) {
			out, err := run(t, "inspect", "--group-by", by, svc)
			require.NoError(t, err)
			requireTerminalSafe(t, out)
			assert.Contains(t, out, `owned\a\rX\u009b`, "numbers are masked in a fingerprint, escapes kept")

			out, err = run(t, "inspect", "--json", "--group-by", by, svc)
			require.NoError(t, err)
			requireTerminalSafe(t, out)
			var res inspectResult
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			keys := map[string]bool{}
			for _, g := range res.Groups {
				keys[g.Key] = true
			}
			assert.True(t, keys[groupKeys[by](&want)], "the key reads back as it was: %v", keys)
		})
	}
}

// TestDisplayEscapesErrors: an error the command prints on its way out,
// here a replay target's status line, reaches the terminal escaped.
func TestDisplayEscapesErrors(t *testing.T) {
	svc := writeHostile(t, hostileEntry())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 418 teapot" + hostile + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = buf.Flush()
	}))
	defer srv.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DLQ_TEST_RUN_MAIN="+strings.Join([]string{"replay", svc, "--to", srv.URL}, "\x1f"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the replay fails: %s", stderr.String())
	requireTerminalSafe(t, string(out))
	requireTerminalSafe(t, stderr.String())
	assert.Contains(t, stderr.String(), "418 teapot\\x1b[2J\\x1b]0;owned\\a\\rX\\u009b31m\\u202e\\x7f\\xff")
	assert.Contains(t, stderr.String(), "entry id\\x1b[2J", "the entry's id in the error")
}

// TestDisplayEscapesReadWarnings: a Reader's warnings (a damaged .gz,
// named) and replay's resume line print file and folder names, which can
// hold control characters too.
func TestDisplayEscapesReadWarnings(t *testing.T) {
	root := t.TempDir()
	svc := filepath.Join(root, "svc\x1b]0;T\a\x1b[31m")
	require.NoError(t, os.Mkdir(svc, 0o700))
	entries := fixtureEntries()
	line := func(i int) []byte { return append(dlq.AppendEnvelope(nil, &entries[i]), '\n') }
	require.NoError(t, os.WriteFile(filepath.Join(svc, "dlq-2026-01-15T08-00-00.000.ndjson.gz"), []byte("\x1f\x8b\x08\x00 not gzip"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(svc, "dlq-\x1b]0;HACK\a.ndjson"), line(0), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(svc, "dlq.ndjson"), line(1), 0o600))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	cp := filepath.Join(t.TempDir(), "cp")
	for _, args := range [][]string{
		{"tail", root},
		{"inspect", root},
		{"show", root, entries[1].ID}, // in the live file, read last
		{"replay", root, "--to", srv.URL, "--checkpoint", cp},
		{"replay", root, "--to", srv.URL, "--checkpoint", cp}, // resumes after the live file's entry
	} {
		t.Run(strings.Join(args[:1], " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := newApp(&out, &errOut).Run(t.Context(), append([]string{"dlq"}, args...))
			require.NoError(t, err, errOut.String())
			requireTerminalSafe(t, out.String())
			requireTerminalSafe(t, errOut.String())
			printed := out.String() + errOut.String()
			if strings.Contains(printed, "resuming after") {
				assert.Contains(t, printed, "resuming after svc\\x1b]0;T\\a\\x1b[31m/dlq.ndjson:", "the position's folder escaped")
				return
			}
			assert.Contains(t, errOut.String(), "warning: ", "the damaged .gz is named on stderr")
			assert.Contains(t, errOut.String(), "svc\\x1b]0;T\\a\\x1b[31m", "the folder's name escaped")
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
