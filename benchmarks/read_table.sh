#!/bin/sh
# read_table.sh prints the README's reading table: each dlq command, run as
# a binary on dlqgen's folder of N entries (default 1,000,000: 35 gzipped and
# 4 plain rotated files and the live one, 2.15 GB of NDJSON), beside what an
# operator would type instead, timed in the same benchmark run; medians of
# COUNT rounds (default 3). The ratio is the peer's time over dlq's: above
# 1, dlq is that many times faster. The folder is generated once (about 2
# minutes for 1,000,000) under $DLQ_BENCH_CACHE (default $TMPDIR or /tmp)
# and reused by later runs.
#
#   benchmarks/read_table.sh                    # from the repository root or benchmarks/
#   N=100000 COUNT=5 benchmarks/read_table.sh
#   DLQ_BIN=/path/to/dlq benchmarks/read_table.sh   # another build of dlq (go build -tags dlq_all ./cmd/dlq
#                                               # of another commit): the "before" column
#   RAW=out.txt benchmarks/read_table.sh        # keep the raw benchmark lines
#   TABLE_ONLY=1 benchmarks/read_table.sh < raw.txt   # only print from raw lines
#
# Replay goes to an in-process kfake broker, which fsyncs each produce
# request into its data folder under TMPDIR: that run gets TMPDIR on tmpfs
# (KAFKA_TMPDIR, default /dev/shm), as table.sh's Kafka row does.
set -eu
cd "$(dirname "$0")/.."
COUNT=${COUNT:-3}
export DLQ_BENCH_N="${N:-1000000}"
export DLQ_BENCH_CACHE="${DLQ_BENCH_CACHE:-${TMPDIR:-/tmp}}"
if [ -n "${TABLE_ONLY:-}" ]; then
	raw=/dev/stdin
else
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
	raw=${RAW:-$bin/raw.txt}
	: >"$raw"
	(cd benchmarks && go test -c -tags dlq_all -o "$bin/peers.test" .)
	if [ -z "${DLQ_BIN:-}" ]; then
		go build -tags dlq_all -o "$bin/dlq" ./cmd/dlq
		export DLQ_BIN="$bin/dlq"
	fi
	for i in $(seq "$COUNT"); do
		"$bin/peers.test" -test.run '^$' -test.bench '^BenchmarkRead' -test.benchtime 1x -test.timeout 0 >>"$raw"
		TMPDIR=${KAFKA_TMPDIR:-/dev/shm} "$bin/peers.test" -test.run '^$' -test.bench '^BenchmarkReplay$' \
			-test.benchtime 1x -test.timeout 0 >>"$raw"
	done
fi

awk -v count="$COUNT" -v n="$DLQ_BENCH_N" '
function median(list,   k, i, j, t, v) {
	k = split(list, v, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
	return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
}
function secs(s) { return s < 10 ? sprintf("%.2f s", s) : sprintf("%.1f s", s) }
function row(task, bench, p, label, skips,   d, q, rate) {
	if (!((bench, "dlq-s") in vals) || !((bench, p "-s") in vals)) return
	d = median(vals[bench, "dlq-s"]); q = median(vals[bench, p "-s"])
	rate = (!skips && (bench, "entries/s") in vals) ? sprintf(" (%.0f k entries/s)", median(vals[bench, "entries/s"]) / 1000) : ""
	printf "| %s | %s%s | %s: %s | %.2f |\n", task, secs(d), rate, label, secs(q), median(vals[bench, "x-vs-" p])
}
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) vals[name, $(i + 1)] = vals[name, $(i + 1)] " " $i
}
END {
	printf "| task (%d entries) | dlq | peer in the same run | ratio |\n", n
	print "|---|---|---|---|"
	row("`inspect --group-by reason`", "BenchmarkReadInspect", "jq", "`zcat -f FILES \\| jq -R '\''fromjson? \\| .reason'\'' \\| sort \\| uniq -c`")
	row("`inspect --group-by reason`", "BenchmarkReadInspect", "grep", "`zcat -f FILES \\| grep -ao '\''\"reason\":\"[^\"]*\"'\'' \\| sort \\| uniq -c`")
	row("`show ID` (an entry of the second-oldest file)", "BenchmarkReadShow/old", "grep", "`zcat -f FILES \\| grep -m1 -aF '\''\"id\":\"ID\"'\''`")
	row("`show ID` (an entry of the live file)", "BenchmarkReadShow/newest", "grep", "the same")
	row("`tail -n 20`", "BenchmarkReadTail", "tail", "`zcat -f FILES \\| tail -n 20`")
	row("`inspect --since` the newest hour", "BenchmarkReadSince", "jq", "`zcat -f FILES \\| jq -R '\''fromjson? \\| select(.timestamp >= T) \\| .reason'\'' \\| sort \\| uniq -c`", 1)
	row("`replay --to kafka://…` (kfake)", "BenchmarkReplay", "kcat", "`zcat -f FILES \\| jq -r … \\| kcat -P -K '\''\\t'\''` (loses binary payloads and headers)")
	b = "BenchmarkReadFingerprint"
	if ((b, "groups") in vals)
		printf "| `inspect --group-by fingerprint` | %s (%.0f k entries/s) | %d groups for %d bugs | %.1f groups per bug |\n",
			secs(median(vals[b, "dlq-s"])), median(vals[b, "entries/s"]) / 1000, median(vals[b, "groups"]), median(vals[b, "bugs"]), median(vals[b, "groups-per-bug"])
	printf "\nmedians of %d runs; LC_ALL=C for the pipelines\n", count
}' "$raw"
echo "cores: $(nproc); load: $(uptime | sed 's/.*load/load/'); $(go version | cut -d" " -f3); $(jq --version 2>/dev/null || echo 'no jq'); kcat $(kcat -V 2>/dev/null | sed -n 's/^Version \([^ ]*\).*librdkafka \([^ ]*\).*/\1 (librdkafka \2)/p')"
