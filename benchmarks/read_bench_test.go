package benchmarks

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The reading benchmarks time the dlq command, executed as a binary, on
// the folder dlqgen writes (read_data_test.go), beside what an operator
// would type instead, in the same run: each iteration runs dlq, then each
// peer, over the same files (in the page cache after the first read).
// ns/op is dlq's time alone; each tool's seconds are reported as
// <tool>-s, and each peer's time over dlq's as x-vs-<peer>: above 1, dlq
// is that many times faster. The peers are bash pipelines under the C
// locale (LC_ALL=C, their fastest); one whose tool is missing is skipped
// with a message (under CI=true it fails: CI installs jq and kcat).
//
//	DLQ_BENCH_N=1000000 go test -run '^$' -bench '^BenchmarkRead' -benchtime 1x -timeout 0 ./benchmarks
//	benchmarks/read_table.sh     # 1,000,000 entries, medians of 3, the README table

// peer is one way to get the same answer without dlq.
type peer struct {
	name string
	tool string // the program it needs besides bash and zcat
	run  func(b *testing.B) time.Duration
}

// race runs dlq and its peers b.N times, dlq under the benchmark timer,
// and reports each one's seconds, the ratios, and dlq's entries/s over the
// n entries of the folder when perEntry.
func race(b *testing.B, n int, perEntry bool, dlq func(b *testing.B) time.Duration, peers ...peer) {
	for _, p := range peers {
		if p.tool != "" {
			needTool(b, p.tool, "apt-get install "+p.tool)
		}
	}
	var dlqTime time.Duration
	peerTimes := make([]time.Duration, len(peers))
	b.ResetTimer()
	for range b.N {
		dlqTime += dlq(b)
		b.StopTimer()
		for i, p := range peers {
			peerTimes[i] += p.run(b)
		}
		b.StartTimer()
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(dlqTime), "dlq-s")
	for i, p := range peers {
		b.ReportMetric(per(peerTimes[i]), p.name+"-s")
		b.ReportMetric(peerTimes[i].Seconds()/dlqTime.Seconds(), "x-vs-"+p.name)
	}
	if perEntry {
		b.ReportMetric(float64(n)/per(dlqTime), "entries/s")
	}
}

// inspectJSON is dlq inspect --json's answer.
type inspectJSON struct {
	Total      int `json:"total"`
	Unreadable int `json:"unreadable"`
	Groups     []struct {
		Key   string `json:"key"`
		Count int    `json:"count"`
	} `json:"groups"`
}

func parseInspect(b testing.TB, out []byte) inspectJSON {
	b.Helper()
	var res inspectJSON
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("dlq inspect --json: %v\n%s", err, out)
	}
	return res
}

func (r inspectJSON) counts() map[string]int {
	counts := map[string]int{}
	for _, g := range r.Groups {
		counts[g.Key] = g.Count
	}
	return counts
}

// wantCounts fails b unless got are the manifest's counts.
func wantCounts(b testing.TB, who string, got, want map[string]int) {
	b.Helper()
	if len(got) != len(want) {
		b.Fatalf("%s counted %v, the manifest says %v", who, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			b.Fatalf("%s counted %v, the manifest says %v", who, got, want)
		}
	}
}

// BenchmarkReadInspect: dlq inspect --group-by reason beside the jq
// pipeline (every line parsed: the operator's usual way) and the grep
// pipeline (no parsing at all: the floor of what reading the files costs).
func BenchmarkReadInspect(b *testing.B) {
	dir, m := readData(b)
	bin, src, files := dlqBinary(b), m.Source(dir), m.Paths(dir)
	race(b, m.N, true, func(b *testing.B) time.Duration {
		out, took := execTimed(b, nil, bin, "inspect", "--group-by", "reason", "--json", src)
		res := parseInspect(b, out)
		if res.Total != m.N || res.Unreadable != 0 {
			b.Fatalf("dlq inspect: total %d, unreadable %d; the folder holds %d", res.Total, res.Unreadable, m.N)
		}
		wantCounts(b, "dlq inspect", res.counts(), m.Reasons)
		return took
	}, peer{name: "jq", tool: "jq", run: func(b *testing.B) time.Duration {
		out, took := pipeline(b, `zcat -f -- "$@" | jq -R 'fromjson? | .reason' | sort | uniq -c`, files)
		wantCounts(b, "the jq pipeline", uniqCounts(b, out, ""), m.Reasons)
		return took
	}}, peer{name: "grep", run: func(b *testing.B) time.Duration {
		out, took := pipeline(b, `zcat -f -- "$@" | grep -ao '"reason":"[^"]*"' | sort | uniq -c`, files)
		wantCounts(b, "the grep pipeline", uniqCounts(b, out, `"reason":`), m.Reasons)
		return took
	}})
}

// BenchmarkReadFingerprint: dlq inspect --group-by fingerprint, which no
// peer offers; it reports how many groups it made (groups) for how many
// bugs the entries come from (bugs), and their quotient (groups-per-bug).
func BenchmarkReadFingerprint(b *testing.B) {
	dir, m := readData(b)
	bin, src := dlqBinary(b), m.Source(dir)
	args := []string{"inspect", "--group-by", "fingerprint", "--json", src}
	if help, _ := execTimed(b, nil, bin, "inspect", "--help"); bytes.Contains(help, []byte("--top")) {
		args = append(args[:4], "--top", "1000000000", src) // every group, however many
	}
	groups := 0
	race(b, m.N, true, func(b *testing.B) time.Duration {
		out, took := execTimed(b, nil, bin, args...)
		res := parseInspect(b, out)
		if res.Total != m.N {
			b.Fatalf("dlq inspect: total %d; the folder holds %d", res.Total, m.N)
		}
		groups = len(res.Groups)
		return took
	})
	b.ReportMetric(float64(groups), "groups")
	b.ReportMetric(float64(m.DistinctBugs), "bugs")
	b.ReportMetric(float64(groups)/float64(m.DistinctBugs), "groups-per-bug")
}

// BenchmarkReadShow: dlq show ID beside zcat | grep -m1 of its id (which
// stops at the first match), for an entry of the second-oldest file (old)
// and one of the live file (newest: every file before it is read).
func BenchmarkReadShow(b *testing.B) {
	dir, m := readData(b)
	bin, src, files := dlqBinary(b), m.Source(dir), m.Paths(dir)
	for _, where := range []string{"old", "newest-file"} {
		s, ok := m.Sample(where)
		if !ok {
			b.Fatalf("the manifest has no %s sample: generate more entries", where)
		}
		b.Run(strings.TrimSuffix(where, "-file"), func(b *testing.B) {
			race(b, m.N, false, func(b *testing.B) time.Duration {
				out, took := execTimed(b, nil, bin, "show", src, s.ID)
				if !bytes.Contains(out, []byte(s.ID)) {
					b.Fatalf("dlq show %s printed\n%s", s.ID, out)
				}
				return took
			}, peer{name: "grep", run: func(b *testing.B) time.Duration {
				// grep -m1 closes the pipe: zcat's SIGPIPE is no failure here.
				out, took := execTimed(b, nil, "bash", append([]string{"-c", `zcat -f -- "$@" | grep -m1 -aF '"id":"` + s.ID + `"'`, "pipeline"}, files...)...)
				if !bytes.Contains(out, []byte(s.ID)) {
					b.Fatalf("zcat | grep -m1 found no %s", s.ID)
				}
				return took
			}})
		})
	}
}

// BenchmarkReadTail: dlq tail -n 20 beside zcat | tail -n 20.
func BenchmarkReadTail(b *testing.B) {
	dir, m := readData(b)
	bin, src, files := dlqBinary(b), m.Source(dir), m.Paths(dir)
	newest, _ := m.Sample("newest")
	race(b, m.N, false, func(b *testing.B) time.Duration {
		out, took := execTimed(b, nil, bin, "tail", "-n", "20", src)
		if lines := bytes.Count(out, []byte("\n")); lines != 20 || !bytes.Contains(out, []byte(newest.ID)) {
			b.Fatalf("dlq tail -n 20 printed %d lines, the newest %s among them: %v\n%s", lines, newest.ID, bytes.Contains(out, []byte(newest.ID)), out)
		}
		return took
	}, peer{name: "tail", run: func(b *testing.B) time.Duration {
		out, took := pipeline(b, `zcat -f -- "$@" | tail -n 20`, files)
		if !bytes.Contains(out, []byte(newest.ID)) {
			b.Fatalf("zcat | tail -n 20 lacks the newest entry %s", newest.ID)
		}
		return took
	}})
}

// BenchmarkReadSince: dlq inspect --since the start of the newest hour
// (an RFC 3339 time: --since 1h counts back from now, and the data is
// older), beside the jq pipeline with the same select. Almost every file
// is older than that hour.
func BenchmarkReadSince(b *testing.B) {
	dir, m := readData(b)
	bin, src, files := dlqBinary(b), m.Source(dir), m.Paths(dir)
	last := m.PerHour[len(m.PerHour)-1]
	since := time.UnixMilli(m.NewestMS).UTC().Truncate(time.Hour)
	if got := since.Format("2006-01-02T15:04Z"); got != last.Hour {
		b.Fatalf("the newest entry's hour is %s, the manifest's last hour %s", got, last.Hour)
	}
	race(b, m.N, true, func(b *testing.B) time.Duration {
		out, took := execTimed(b, nil, bin, "inspect", "--since", since.Format(time.RFC3339), "--json", src)
		if res := parseInspect(b, out); res.Total != last.Entries {
			b.Fatalf("dlq inspect --since %s: total %d, the manifest says %d", since.Format(time.RFC3339), res.Total, last.Entries)
		}
		return took
	}, peer{name: "jq", tool: "jq", run: func(b *testing.B) time.Duration {
		script := `zcat -f -- "$@" | jq -R 'fromjson? | select(.timestamp >= ` + strconv.FormatInt(since.UnixMilli(), 10) + `) | .reason' | sort | uniq -c`
		out, took := pipeline(b, script, files)
		total := 0
		for _, c := range uniqCounts(b, out, "") {
			total += c
		}
		if total != last.Entries {
			b.Fatalf("the jq pipeline counted %d since %s, the manifest says %d", total, since, last.Entries)
		}
		return took
	}})
}
