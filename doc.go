// Package dlq is an embeddable dead-letter queue for Go services.
//
// A service that cannot process a message (a parse error, a schema
// mismatch, a poison record, a downstream that stays down) hands it to the
// DLQ with the reason, and goes on. The DLQ keeps it safe in one or more
// backends (a rotating NDJSON file, a Kafka topic, an HTTP endpoint, a Redis
// Stream) so that an operator can inspect and replay it later.
//
// # Quick start
//
// With a config file dlq.yaml holding "service: loader":
//
//	cfg, err := dlq.LoadConfig("dlq.yaml")
//	if err != nil { ... } // a misspelled key is an error naming it and its line
//	q, err := dlq.New(cfg)
//	if err != nil { ... }
//
//	// on the hot path: never blocks, never does I/O
//	if perr := json.Unmarshal(msg, &v); perr != nil {
//		if err := q.Send(dlq.Entry{Reason: "parse_error", Error: perr.Error(), Payload: msg}); err != nil {
//			// dlq.ErrQueueFull or dlq.ErrClosed: refused and counted
//		}
//	}
//
//	// before committing upstream offsets
//	if err := q.Flush(ctx); err != nil { ... }
//
//	// at shutdown, with a deadline of its own
//	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//	defer cancel()
//	if err := q.Close(ctx); err != nil { ... } // counts what was lost
//
// Flush and Close retry a backend that is down until their ctx ends, since
// giving up loses entries: Close(context.Background()) with the only
// backend down for good never returns. Give them a deadline.
//
// A Config with only Service set writes ./dlq/<service>/dlq.ndjson, rotated
// hourly; a Go literal (dlq.Config{Service: "loader"}) works as well as a
// file. SetDefault installs a process-wide Orchestrator behind the package
// functions Send and Flush, as slog.SetDefault does for logging.
//
// # Loading config
//
// LoadConfig and ParseConfig read YAML, or JSON, strictly: an unknown or
// misspelled key, a key given twice, a value of the wrong type or not in
// its list is an error naming the line and the key, with the nearest known
// key as a suggestion; the result is validated as New validates it. Values
// may reference the environment as docker compose does: ${VAR},
// ${VAR:-default}, ${VAR-default}, ${VAR:?message}, and $$ for a literal $;
// an unset ${VAR} without a default is an error. Decoding a Config with
// yaml.Unmarshal or json.Unmarshal rejects a bad Mode, Rotation or Kind too,
// but ignores unknown keys.
//
// # Backends
//
// The file backend is always built and on unless File.Disabled. It writes
// <dir>/<service>/dlq.ndjson; a rotated file is renamed, in UTC to the
// millisecond of its rotation, dlq-2026-11-27T10-00-00.004.ndjson, with .gz
// appended once compressed (File.Compress). Kafka
// (Kafka.Brokers), HTTP (HTTP.URL) and Redis Streams (Redis.URL) are on
// when configured and built with their tags (see Build tags). Mode decides
// how they are used: ModeCascade (the default) writes each entry to the
// first backend in Order that takes it, falling back entry by entry;
// ModeFanOut writes every entry to every backend; ModeFileOnly and
// ModeKafkaOnly use one backend. Every backend writes the same envelope,
// one JSON object per entry (see AppendEnvelope), compatible with the
// hyperi-rustlib DLQ.
//
// # Delivery guarantees
//
// An entry for which Send returned nil is written to at least one backend,
// or counted in Stats.Lost with a reason and handed to Config.OnLoss. It is
// never silently gone:
//
//   - A batch may partly fail; only the failed entries move on to the next
//     backend, so no backend gets an entry twice from the cascade.
//   - When every backend failed an entry, the drain retries it with
//     jittered exponential backoff while new entries wait in the queue:
//     Send then returns ErrQueueFull (backpressure you can see).
//   - With Retry.MaxAttempts set, an entry past its attempts is lost with
//     reason "all_failed"; an entry too large for every backend is lost with
//     reason "oversize"; an entry still unwritten when Close's context ends
//     is lost with reason "shutdown".
//   - A backend that fails a whole batch is passed over for a cool-down
//     that follows the retry backoff, so a dead broker's timeout is not paid
//     on every batch; Flush and Close respect the cool-down too.
//   - Flush returns nil only once everything accepted before it is durable:
//     fsynced to the file (and its folder after a rotation), acknowledged by
//     the broker, answered 2xx by the server, or replied to by Redis.
//
// Every entry carries an ID (a UUIDv7) given before its first write and kept
// through retries and fan-out, so a consumer can de-duplicate the rare
// entry written twice (a write that timed out after it had in fact landed).
// A write to the file that fails part way (a full disk) is cut back to its
// last whole line at once, and a line torn by a crash is cut off when the
// file is next opened: every line of the file parses. The file backend's
// folder has one writer (a second fails New with ErrLocked); without Flush,
// a written file is fsynced every File.SyncIntervalMS, which bounds what a
// power loss can take.
//
// # Storm brake
//
// A bad deploy makes every message fail, and a DLQ would then copy the
// whole source topic, which still holds every one of those messages in
// order. Config.Storm limits that. Call Orchestrator.Ok (or the package's
// Ok) for each message processed without a dead letter; the brake trips
// when dead letters ÷ (dead letters + Ok) over the last Storm.WindowMS
// passes Storm.MaxRatio, once the window holds Storm.MinEvents events, or
// at the Send that ends a run of Storm.MaxConsecutive dead letters with no
// Ok between them. While it is tripped with action refuse (the default),
// Send and SendContext return ErrStorm: the entry is not accepted (it is
// counted in Stats.DroppedBy under ReasonStorm), and the consumer keeps the
// message in its source, commits nothing past it and pauses. With action
// signal, entries are accepted as before. After Storm.CoolDownMS the brake
// lets entries through again; the window is time, so if failures go on the
// next dead letter trips it again at once. Orchestrator.Storm,
// Stats.StormTripped and Config.OnStorm (the ratio, the counts, the top
// reasons and error fingerprints) tell of it. The brake is off unless
// MaxRatio or MaxConsecutive is set; Ok then does nothing. On Send the
// brake costs an atomic load: its arithmetic runs on its own goroutine.
//
// # Build tags
//
// The default build links only the file backend and no third-party network
// client. Tags add the others:
//
//	dlq_kafka   Kafka backend (segmentio/kafka-go)
//	dlq_http    HTTP backend (net/http)
//	dlq_redis   Redis Streams backend (redis/go-redis/v9)
//	dlq_all     all three
//
// Without its tag a backend's config still parses, and enabling it makes
// New return an error matching ErrBackendNotBuilt that names the tag.
//
// # Metrics
//
// Orchestrator.Stats is a snapshot of cumulative counters, among them the
// accepted entries by their own Reason (Stats.ByReason, at most 100 distinct
// reasons, then ReasonOther), the age of the oldest pending entry, and
// whether each backend is in its cool-down. Config.OnBatch hears of every
// batch write with its backend, size, duration and error. The nested
// modules github.com/dlqkit/dlq/dlqprom (a prometheus.Collector) and
// github.com/dlqkit/dlq/dlqotel (OpenTelemetry instruments) export both,
// keeping their dependencies out of this module. An Entry logs through
// slog without its payload (Entry.LogValue).
//
// # Performance
//
// Send is a non-blocking channel send guarded by three atomic operations
// (admission, and a unit of room for the memory bound): no allocation, no
// lock, no I/O. Encoding appends into a reused buffer without
// reflection. The drain writes a batch when it holds BatchSize entries or
// FlushIntervalMS after its first entry. The benchmarks/ module compares
// the file path with zap writing the same fields through a
// BufferedWriteSyncer into a file; README.md has the numbers.
package dlq
