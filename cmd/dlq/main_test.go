package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if args := os.Getenv("DLQ_TEST_RUN_MAIN"); args != "" {
		// The test binary runs as the command, for tests that kill it.
		os.Args = append([]string{"dlq"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// run runs the command in process and returns what it printed.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCtx(t.Context(), t, args...)
}

func runCtx(ctx context.Context, t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := newApp(&out, &errOut).Run(ctx, append([]string{"dlq"}, args...))
	return out.String(), err
}

var fixtureTime = time.Date(2026, 1, 15, 8, 30, 0, 0, time.UTC)

// allBytes holds every byte value, newlines and invalid UTF-8 among them.
var allBytes = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// fixtureEntries are what the fixture folder holds, in order.
func fixtureEntries() []dlq.Entry {
	var out []dlq.Entry
	for i := range 6 {
		out = append(out, dlq.Entry{Timestamp: fixtureTime.Add(time.Duration(i) * time.Minute), Service: "loader",
			Reason: "parse_error", Error: fmt.Sprintf(`unexpected token '%c' at offset %d in "doc-%d"`, 'a'+i, i*7, i),
			Payload: fmt.Appendf(nil, `{"n":%d`, i), Destination: "acme.auth", Source: dlq.KafkaSource("events", int32(i%2), int64(100+i)),
			ID: fmt.Sprintf("id-parse-%d", i)})
	}
	out = append(out,
		dlq.Entry{Timestamp: fixtureTime.Add(90 * time.Minute), Service: "loader", Reason: "timeout",
			Error:   "call to 10.0.0.7:5432 timed out after 30s (request 0192f3c4-7d3e-7abc-8def-0123456789ab)",
			Payload: []byte("slow"), Destination: "acme.billing", ID: "id-timeout-1"},
		dlq.Entry{Timestamp: fixtureTime.Add(95 * time.Minute), Service: "loader", Reason: "timeout",
			Error:   "call to 10.0.0.9:5432 timed out after 12s (request 0192f3c4-0000-7abc-8def-ffffffffffff)",
			Payload: []byte("slower"), Destination: "acme.billing", ID: "id-timeout-2"},
		dlq.Entry{Timestamp: fixtureTime.Add(100 * time.Minute), Service: "ingest", Reason: "poison",
			Error: "checksum 0xdeadbeef mismatch", Payload: allBytes, Destination: "acme.auth",
			Key: []byte{0, 0xff, '\n'}, Headers: []dlq.Header{{Key: "trace", Value: []byte("t-1")}, {Key: "bin", Value: []byte{0xfe, 0}}},
			ID: "id-binary"},
	)
	return out
}

// writeFixture writes the fixture entries through the library's own file
// backend into dir/<service> and returns the service folder of "loader".
func writeFixture(t *testing.T, dir string) string {
	t.Helper()
	for _, service := range []string{"loader", "ingest"} {
		o, err := dlq.New(dlq.Config{Service: service, File: dlq.FileConfig{Dir: dir}})
		require.NoError(t, err)
		for _, e := range fixtureEntries() {
			if e.Service == service {
				require.NoError(t, o.Send(e))
			}
		}
		require.NoError(t, o.Close(t.Context()))
	}
	return filepath.Join(dir, "loader")
}

func itoa(v int64) string { return fmt.Sprint(v) }

func appendText(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// runBoth runs the command in process and returns what it printed on
// stdout and on stderr.
func runBoth(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = newApp(&out, &errOut).Run(t.Context(), append([]string{"dlq"}, args...))
	return out.String(), errOut.String(), err
}

// runMain runs the test binary as the command, main() and all, and returns
// what it printed on stderr and how it exited.
func runMain(t *testing.T, args ...string) (stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DLQ_TEST_RUN_MAIN="+strings.Join(args, "\x1f"))
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err = cmd.Run()
	return errOut.String(), err
}

func TestVersion(t *testing.T) {
	for _, test := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"installed at a version with every tag", &debug.BuildInfo{GoVersion: "go1.26.8",
			Main:     debug.Module{Path: "github.com/dlqkit/dlq/cmd/dlq", Version: "v0.2.0"},
			Deps:     []*debug.Module{{Path: "github.com/urfave/cli/v3", Version: "v3.14.0"}, {Path: "github.com/dlqkit/dlq", Version: "v0.2.0"}},
			Settings: []debug.BuildSetting{{Key: "-compiler", Value: "gc"}, {Key: "-tags", Value: "dlq_all"}}},
			"dlq version v0.2.0, library v0.2.0, go1.26.8, build tags: dlq_all"},
		{"built from a checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/dlqkit/dlq/cmd/dlq", Version: "(devel)"},
			Deps: []*debug.Module{{Path: "github.com/dlqkit/dlq", Version: "v0.1.0", Replace: &debug.Module{Path: "../.."}}}},
			"dlq version (devel), library v0.1.0 (local), go1.26.8, build tags: none"},
		{"no version recorded", &debug.BuildInfo{}, "dlq version (devel), build tags: none"},
	} {
		t.Run(test.name, func(t *testing.T) {
			assert.Equal(t, test.want, versionLine(test.info, true))
		})
	}
	assert.Equal(t, "dlq version (devel), build tags: none", versionLine(nil, false), "no build information")

	out, stderr, err := runBoth(t, "--version")
	require.NoError(t, err)
	assert.Regexp(t, `^dlq version \S+.*, build tags: \S+\n$`, out)
	assert.Empty(t, stderr)
}

func TestUsageErrorsAreOneLine(t *testing.T) {
	dir := t.TempDir()
	loader := writeFixture(t, dir)
	for _, test := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "--grup-by", "reason", loader}, "inspect: unknown flag --grup-by; did you mean --group-by?"},
		{[]string{"tail", "--folow", loader}, "tail: unknown flag --folow; did you mean --follow?"},
		{[]string{"show", "--jsn", loader, "id-binary"}, "show: unknown flag --jsn; did you mean --json?"},
		{[]string{"replay", loader, "--too", "http://x"}, "replay: unknown flag --too; did you mean --to?"},
		{[]string{"copy", loader, "--zzzzzzzz"}, "copy: unknown flag --zzzzzzzz; see dlq copy --help"},
		{[]string{"--verison"}, "unknown flag --verison; did you mean --version?"},
		{[]string{"inpsect", loader}, `unknown command "inpsect"; did you mean inspect?`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; see dlq --help`},
		{[]string{"tail", "-n", "many", loader}, `tail: invalid value "many" for flag -n: `},
		{[]string{"replay", loader}, `replay: Required flag "to" not set (see dlq replay --help)`},
	} {
		t.Run(strings.Join(test.args, " "), func(t *testing.T) {
			out, stderr, err := runBoth(t, test.args...)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), test.want), "%q", err.Error())
			assert.NotContains(t, err.Error(), "\n")
			assert.ErrorIs(t, err, errUsage)
			assert.Empty(t, out, "no help printed")
			assert.Empty(t, stderr, "no help printed")
		})
	}
	t.Run("printed by main as one line", func(t *testing.T) {
		stderr, err := runMain(t, "inspect", "--grup-by", "reason", loader)
		require.Error(t, err)
		assert.Equal(t, "dlq: inspect: unknown flag --grup-by; did you mean --group-by?\n", stderr)
	})
}

func TestErrorsHaveOnePrefix(t *testing.T) {
	for _, test := range []struct {
		err  error
		want string
	}{
		{errors.New("dlq: source: stat x: no such file or directory"), "dlq: source: stat x: no such file or directory"},
		{fmt.Errorf("replay stopped: 3 sent: %w", errors.New("dlq: source x: unreadable")), "dlq: replay stopped: 3 sent: source x: unreadable"},
		{fmt.Errorf("copy: 0 of 9 entries written: %w", fmt.Errorf("dlq: kafka backend: %w", errors.New("dlq: closed"))),
			"dlq: copy: 0 of 9 entries written: kafka backend: closed"},
		{errors.New("no entry with id \"x\" in src (9 entries read)"), `dlq: no entry with id "x" in src (9 entries read)`},
	} {
		assert.Equal(t, test.want, errorLine(test.err))
	}
	stderr, err := runMain(t, "inspect", filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	assert.Regexp(t, `^dlq: source: stat \S+/missing: no such file or directory\n$`, stderr)
	assert.NotContains(t, stderr, "dlq: dlq:")
}

func TestHelpNamesSourcesTargetsAndTags(t *testing.T) {
	sources := []string{"PATH", "kafka://HOST:PORT/TOPIC", "redis://HOST:PORT/DB?stream=NAME",
		"needs -tags dlq_kafka or dlq_all", "needs -tags dlq_redis or dlq_all", "go install -tags dlq_all ./cmd/dlq"}
	for _, test := range []struct {
		command string
		targets []string
	}{
		{"", nil},
		{"inspect", nil},
		{"tail", nil},
		{"show", nil},
		{"replay", []string{"TARGET is one of", "kafka://HOST:PORT/TOPIC", "http(s)://URL", "redis://HOST:PORT/DB?stream=NAME"}},
		{"copy", []string{"TARGET is one of", "file://DIR", "needs -tags dlq_http or dlq_all"}},
	} {
		t.Run(test.command, func(t *testing.T) {
			args := []string{"--help"}
			if test.command != "" {
				args = []string{test.command, "--help"}
			}
			out, _, err := runBoth(t, args...)
			require.NoError(t, err)
			for _, want := range append(sources, test.targets...) {
				assert.Contains(t, out, want)
			}
		})
	}
}
