#!/bin/sh
# table.sh prints the README's performance table: each dlq row beside its
# peer from the same `go test -bench` run, as ratios of medians of
# entries/s over COUNT runs (default 5). Test binaries are built once and run
# in rounds (file, kafka, redis, http, then again), so a load spike on the
# shared machine hits every row rather than one.
#
#   benchmarks/table.sh                # from the repository root or benchmarks/
#   COUNT=7 benchmarks/table.sh
#   RAW=out.txt benchmarks/table.sh    # keep the raw benchmark lines
#   PREBUILT=dir benchmarks/table.sh   # run dir/root.test and dir/peers.test
#                                      # (go test -c -tags dlq_all of each module)
#   benchmarks/table.sh < raw.txt      # with TABLE_ONLY=1: only print from raw lines
#
# Redis needs a server at $DLQ_REDIS_ADDR (default 127.0.0.1:6379); when
# redis-benchmark is on PATH its -P 256 XADD of the same value size is run
# beside, as the issue's reference figure, twice: with -c 1 (one connection
# waiting for each pipeline's replies before sending the next, as dlq does:
# the same ground) and with its default 50 connections (50 pipelines in
# flight at once).
set -eu
cd "$(dirname "$0")/.."
COUNT=${COUNT:-5}
if [ -n "${TABLE_ONLY:-}" ]; then
	raw=/dev/stdin
else
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
raw=${RAW:-$bin/raw.txt}
: >"$raw"
if [ -n "${PREBUILT:-}" ]; then # a directory holding root.test and peers.test of another commit
	cp "$PREBUILT/root.test" "$PREBUILT/peers.test" "$bin/"
else
	go test -c -tags dlq_all -o "$bin/root.test" .
	(cd benchmarks && go test -c -tags dlq_all -o "$bin/peers.test" .)
fi

n_file=${N_FILE:-300000x}
n_kafka=${N_KAFKA:-100000x}
n_redis=${N_REDIS:-100000x}
n_http=${N_HTTP:-200000x}
n_disk=${N_DISK:-300000x}
for i in $(seq "$COUNT"); do
	"$bin/peers.test" -test.run '^$' -test.bench '^BenchmarkFile$' -test.benchtime "$n_file" >>"$raw"
	# kfake keeps its data under TMPDIR and fsyncs each produce request:
	# on tmpfs, like the file row, so that the row measures the code
	TMPDIR=${KAFKA_TMPDIR:-/dev/shm} "$bin/peers.test" -test.run '^$' -test.bench '^BenchmarkKafka$' -test.benchtime "$n_kafka" >>"$raw"
	# the disk row: dlq and dd on $DLQ_BENCH_DISK_DIR (default: the temporary folder, ext4 here)
	"$bin/peers.test" -test.run '^$' -test.bench '^BenchmarkFileDisk$' -test.benchtime "$n_disk" >>"$raw"
	"$bin/root.test" -test.run '^$' -test.bench '^BenchmarkRedis$' -test.benchtime "$n_redis" >>"$raw"
	"$bin/root.test" -test.run '^$' -test.bench '^BenchmarkHTTP$' -test.benchtime "$n_http" >>"$raw"
	if command -v redis-benchmark >/dev/null; then
		host=${DLQ_REDIS_ADDR:-127.0.0.1:6379}
		# the XADD value: one envelope of the benchmarks' entry (256-byte payload)
		value=$(printf '%*s' "${VALUE_SIZE:-601}" '' | tr ' ' x)
		for c in 1 50; do
			redis-benchmark -h "${host%:*}" -p "${host##*:}" -c "$c" -P 256 -n 200000 -q \
				XADD dlq-redis-benchmark MAXLEN '~' 100000 '*' data "$value" reason parse_error service bench id 0190f0e0-0000-7000-8000-000000000000 |
				tr '\r' '\n' |
				awk -v c="$c" '/requests per second/ { for (i = 1; i <= NF; i++) if ($i == "requests") print "BenchmarkRedis/redis-benchmark-P256-c" c " 1 0 ns/op", $(i-1), "entries/s" }' >>"$raw"
			redis-cli -h "${host%:*}" -p "${host##*:}" DEL dlq-redis-benchmark >/dev/null
		done
	fi
done
fi

awk -v count="$COUNT" '
function median(list,   n, i, j, t, v) {
	n = split(list, v, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function rowMB(path, dlq, peer, label,   d, p) {
	if (!(dlq in mbs) || !(peer in mbs)) return
	d = median(mbs[dlq]); p = median(mbs[peer])
	printf "| %s | %.0f MB/s | %s: %.0f MB/s | %.2f |\n", path, d, label, p, d / p
}
function row(path, dlq, peer, label,   d, p) {
	if (!(dlq in vals) || !(peer in vals)) return
	d = median(vals[dlq]); p = median(vals[peer])
	printf "| %s | %.0f k/s | %s: %.0f k/s | %.2f |\n", path, d / 1000, label, p / 1000, d / p
}
/entries\/s/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 2; i <= NF; i++) if ($i == "entries/s") vals[name] = vals[name] " " $(i - 1)
	for (i = 2; i <= NF; i++) if ($i == "MB/s") mbs[name] = mbs[name] " " $(i - 1)
}
END {
	print "| path | dlq | peer in the same run | ratio |"
	print "|---|---|---|---|"
	row("file on tmpfs, Send → fsynced", "BenchmarkFile/dlq", "BenchmarkFile/hand-rolled-bufio-fsync", "one goroutine: AppendEnvelope into a 64 KiB bufio.Writer, one final fsync")
	row("file on tmpfs, Send → fsynced", "BenchmarkFile/dlq", "BenchmarkFile/zap-BufferedWriteSyncer-fsync", "zap JSON, 256 KiB BufferedWriteSyncer on *os.File, final Sync (fsync)")
	rowMB("file on ext4, Send → fsynced", "BenchmarkFileDisk/dlq", "BenchmarkFileDisk/dd-fdatasync", "dd of as many bytes of zeros, bs=1M conv=fdatasync (nothing to encode)")
	row("Kafka, kfake over loopback, data on tmpfs", "BenchmarkKafka/dlq", "BenchmarkKafka/franz-go-async-linger5ms", "franz-go async producer, linger 5 ms, acks all, idempotence off, snappy (its default), same key/value/9 headers")
	row("the same, dlq with snappy", "BenchmarkKafka/dlq-snappy", "BenchmarkKafka/franz-go-async-linger5ms", "the same franz-go producer")
	row("Redis stream, XADD", "BenchmarkRedis/dlq", "BenchmarkRedis/go-redis-pipeline-256", "go-redis pipelines of 256 XADDs of the same envelopes")
	row("Redis stream, XADD", "BenchmarkRedis/dlq", "BenchmarkRedis/redis-benchmark-P256-c1", "redis-benchmark -P 256 -c 1 XADD, the same value size: one connection, one pipeline in flight, as dlq")
	row("Redis stream, XADD", "BenchmarkRedis/dlq", "BenchmarkRedis/redis-benchmark-P256-c50", "redis-benchmark -P 256 XADD, its default 50 connections: 50 pipelines in flight")
	row("HTTP, loopback", "BenchmarkHTTP/dlq", "BenchmarkHTTP/net-http-batches-256", "net/http loop posting the same NDJSON bodies of 256")
	row("HTTP gzip, loopback", "BenchmarkHTTP/dlq-gzip", "BenchmarkHTTP/net-http-gzip-batches-256", "the same loop gzipping each body (klauspost/compress BestSpeed, writer reused)")
	printf "\nmedians of %d runs\n", count
}' "$raw"
echo "load: $(uptime)"
