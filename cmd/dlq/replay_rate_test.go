package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplayRateAuto: --rate auto --max-rate N replays everything, the
// progress line and the summary telling the rate in force; the summary of
// a replay with a fixed rate says nothing of it.
func TestReplayRateAuto(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	s, url := newSink(t, func(call int) int {
		if call == 2 {
			return http.StatusTooManyRequests // halves the rate: 50/s to 25/s
		}
		return 0
	})
	var out bytes.Buffer
	tty := &ttyBuffer{}
	err := newApp(&out, tty).Run(t.Context(), []string{"dlq", "--progress-after", "0", "replay", dir, "--to", url, "--rate", "auto", "--max-rate", "5000"})
	require.NoError(t, err)
	assert.Len(t, s.bodies, 9)
	assert.Regexp(t, `^replayed 9 to http://127\.0\.0\.1:\d+/ingest; failed 0; unreadable 0; rate auto: (25|50)/s at the end\n$`, out.String(),
		"the rate halved after the 429, then rose once at most (a step is a quarter second of health)")
	assert.Regexp(t, `sent [0-9,]+; rate auto: [0-9,]+/s`, tty.String(), "the progress line")

	plain, err := run(t, "replay", dir, "--to", url, "--rate", "1000")
	require.NoError(t, err)
	assert.NotContains(t, plain, "rate")
}

func TestReplayRateAutoUsage(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	s, url := newSink(t, nil)
	for _, test := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "fast"}, `usage: --rate "fast" is neither a number of messages per second nor auto`},
		{[]string{"--max-rate", "100"}, "usage: --max-rate is a positive number of messages per second, with --rate auto"},
		{[]string{"--rate", "100", "--max-rate", "100"}, "usage: --max-rate is a positive number"},
		{[]string{"--rate", "auto", "--max-rate", "-5"}, "usage: --max-rate is a positive number"},
		{[]string{"--rate", "auto", "--max-rate", "0.5"}, "max rate 0.5 is below the automatic rate's floor of 1 a second"},
	} {
		_, err := run(t, append([]string{"replay", dir, "--to", url}, test.args...)...)
		assert.ErrorContains(t, err, test.want, "%v", test.args)
	}
	assert.Zero(t, s.calls, "nothing sent")
}

// TestReplayHelpMaxRateDefault: dlq replay -h gives --max-rate one default,
// the 10000 --rate auto uses when it is not given; it printed "(default
// 10000) (default: 0)", the second from the flag's zero value.
func TestReplayHelpMaxRateDefault(t *testing.T) {
	out, err := run(t, "replay", "-h")
	require.NoError(t, err)
	var line string
	for l := range strings.Lines(out) {
		if strings.Contains(l, "--max-rate") {
			line = l
		}
	}
	require.NotEmpty(t, line, "no --max-rate line in dlq replay -h:\n%s", out)
	assert.Contains(t, line, "(default: 10000)")
	assert.Equal(t, 1, strings.Count(line, "default"), "one default: %q", line)
}
