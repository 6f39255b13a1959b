package benchmarks

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/dlqkit/dlq/benchmarks/internal/dlqgen"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestManifestMatchesInspect: on a small folder, the ground truth the
// benchmarks check every tool against is what the dlq command reports:
// entries per reason and per hour, every entry readable, each sample id
// found by show in the file the manifest names.
func TestManifestMatchesInspect(t *testing.T) {
	dir := t.TempDir()
	m, err := dlqgen.Write(context.Background(), dir, dlqgen.Options{Seed: 3, N: 5000, MaxSizeMB: 1})
	require.NoError(t, err)
	bin, src := dlqBinary(t), m.Source(dir)

	t.Run("reasons", func(t *testing.T) {
		out, _ := execTimed(t, nil, bin, "inspect", "--group-by", "reason", "--json", src)
		res := parseInspect(t, out)
		assert.Equal(t, m.N, res.Total)
		assert.Zero(t, res.Unreadable)
		assert.Equal(t, m.Reasons, res.counts())
	})
	t.Run("hours", func(t *testing.T) {
		out, _ := execTimed(t, nil, bin, "inspect", "--group-by", "hour", "--json", src)
		want := map[string]int{}
		for _, h := range m.PerHour {
			if h.Entries > 0 {
				want[h.Hour] = h.Entries
			}
		}
		assert.Equal(t, want, parseInspect(t, out).counts())
	})
	t.Run("samples", func(t *testing.T) {
		for _, s := range m.Samples {
			out, _ := execTimed(t, nil, bin, "show", src+"/"+s.File, s.ID)
			assert.Contains(t, string(out), s.ID, s.Where)
			assert.Contains(t, string(out), s.Reason, s.Where)
		}
	})
	t.Run("files", func(t *testing.T) {
		for _, f := range m.Files {
			out, _ := execTimed(t, nil, bin, "inspect", "--json", src+"/"+f.Name)
			assert.Equal(t, f.Entries, parseInspect(t, out).Total, f.Name)
		}
	})
	t.Run("the peers' pipelines", func(t *testing.T) {
		needTool(t, "jq", "apt-get install jq")
		out, _ := pipeline(t, `zcat -f -- "$@" | jq -R 'fromjson? | .reason' | sort | uniq -c`, m.Paths(dir))
		assert.Equal(t, m.Reasons, uniqCounts(t, out, ""))
		out, _ = pipeline(t, `zcat -f -- "$@" | grep -ao '"reason":"[^"]*"' | sort | uniq -c`, m.Paths(dir))
		assert.Equal(t, m.Reasons, uniqCounts(t, out, `"reason":`))
		out, _ = pipeline(t, `zcat -f -- "$@" | tail -n 1`, m.Paths(dir))
		newest, _ := m.Sample("newest")
		assert.True(t, bytes.Contains(out, []byte(newest.ID)), "the last line is %s", strings.TrimSpace(string(out)))
	})
}
