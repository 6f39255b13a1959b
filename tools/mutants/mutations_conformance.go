package main

// The conformance suite's tests, one Kind at a time.
const (
	conformanceFile  = "^TestBackendConformance$/^file$"
	conformanceKafka = "^TestBackendConformance$/^kafka$"
	conformanceHTTP  = "^TestBackendConformance$/^http$"
	conformanceRedis = "^TestBackendConformance$/^redis$"
)

// conformanceMutations break each promise of the conformance suite
// (backend_test.go) in one backend: the suite, run for that Kind alone,
// must fail.
var conformanceMutations = []mutation{
	// write: every entry lands exactly once, its bytes intact.
	{name: "conformance write: Kafka message value cut short by a byte", file: "kafka.go",
		old: "\t\tValue:   s.put(line),\n", new: "\t\tValue:   s.put(line[:len(line)-1]),\n",
		tags: "dlq_kafka", run: conformanceKafka},
	{name: "conformance write: Redis XADD carries the line of the entry before", file: "redis.go",
		old: "\"data\", (*redisLine)(&bt.lines[i]),", new: "\"data\", (*redisLine)(&bt.lines[max(i-1, 0)]),",
		tags: "dlq_redis", run: conformanceRedis},
	{name: "conformance write: HTTP posts every body twice", file: "http.go",
		old:  "\t\twait, err := h.attempt(ctx, payload, encoding, key, entries)\n",
		new:  "\t\t_, _ = h.attempt(ctx, payload, encoding, key, entries)\n\t\twait, err := h.attempt(ctx, payload, encoding, key, entries)\n",
		tags: "dlq_http", run: conformanceHTTP},

	// partial failure: only the refused entries move on, none is lost
	// silently.
	{name: "conformance partial: Kafka fails the whole batch for one partition's refusal", file: "kafka.go",
		old:  "\tif !errors.As(err, &perMessage) || len(perMessage) != len(k.msgs) {",
		new:  "\tif true || !errors.As(err, &perMessage) || len(perMessage) != len(k.msgs) {",
		tags: "dlq_kafka", run: conformanceKafka},
	{name: "conformance partial: HTTP counts a refused body's entries written", file: "http.go",
		old: "\t\t\tbt.recs[i].resendGroup = \"\"\n\t\t\tbt.errs[i] = err\n", new: "\t\t\tbt.recs[i].resendGroup = \"\"\n",
		tags: "dlq_http", run: conformanceHTTP},
	{name: "conformance partial: file counts a torn write's failed lines written", file: "internal/filelog/log.go",
		old: "\t\tif end > whole {\n\t\t\terrs[i] = err\n", new: "\t\tif end > whole {\n\t\t\t_ = err\n",
		run: conformanceFile},

	// oversize: the entry fails alone, as ErrOversize, and is not retried.
	{name: "conformance oversize: file line too large not matched as ErrOversize", file: "file.go",
		old: "\tcase errors.As(err, &tooLarge):\n", new: "\tcase false && errors.As(err, &tooLarge):\n",
		run: conformanceFile},
	{name: "conformance oversize: Kafka hands a message over its limit to kafka-go", file: "kafka.go",
		old: "size > kafkaMaxMessageBytes {", new: "size > 64*kafkaMaxMessageBytes {",
		tags: "dlq_kafka", run: conformanceKafka},
	{name: "conformance oversize: HTTP posts a line over max_body_bytes", file: "http.go",
		old: "\t\tif n > h.maxBody {\n\t\t\tbt.errs[i] = fmt.Errorf(", new: "\t\tif false {\n\t\t\tbt.errs[i] = fmt.Errorf(",
		tags: "dlq_http", run: conformanceHTTP},

	// cancelled write: the write in flight ends with the Flush's context.
	{name: "conformance cancel: HTTP request outlives its write's context", file: "http.go",
		old: "http.NewRequestWithContext(ctx, http.MethodPost,", new: "http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost,",
		tags: "dlq_http", run: conformanceHTTP},
	{name: "conformance cancel: Kafka produce outlives its write's context", file: "kafka.go",
		old: "\terr := k.writer.WriteMessages(ctx, msgs...)\n", new: "\terr := k.writer.WriteMessages(context.WithoutCancel(ctx), msgs...)\n",
		tags: "dlq_kafka", run: conformanceKafka},
	{name: "conformance cancel: Redis write's connection not cut when its context ends", file: "redis.go",
		old: "\tdefer context.AfterFunc(ctx, r.conns.Cut)()\n\tdefer r.xadds.clear()\n", new: "\tdefer r.xadds.clear()\n",
		tags: "dlq_redis", run: conformanceRedis},

	// Close deadline: Close returns by its deadline, every entry accounted.
	{name: "conformance Close: Kafka close waits for the produce in flight", file: "kafka.go",
		old: "\t\tk.conns.CloseAll()\n\t\tif err = <-closed; err == nil {", new: "\t\tif err = <-closed; err == nil {",
		tags: "dlq_kafka", run: conformanceKafka},
	{name: "conformance Close: entries waiting for a retry at the deadline not counted lost", file: "shutdown.go",
		old: "\t\tgone = append(gone, r)\n\t}\n", new: "\t\t_ = r\n\t}\n",
		run: conformanceFile},

	// no goroutine left after Close.
	{name: "conformance goroutines: file syncer not stopped at Close", file: "internal/filelog/log.go",
		old: "\tl.syncer.stopAndWait()\n\tl.mu.Lock()\n", new: "\tl.mu.Lock()\n",
		run: conformanceFile},
	{name: "conformance goroutines: HTTP idle connections left open at close", file: "http.go",
		old: "\th.transport.CloseIdleConnections()\n\treturn nil\n", new: "\treturn nil\n",
		tags: "dlq_http", run: conformanceHTTP},
	{name: "conformance goroutines: Redis client not closed at close", file: "redis.go",
		old: "\terr := r.client.Close()\n\tif errors.Is(err, redis.ErrClosed) {", new: "\tvar err error\n\tif errors.Is(err, redis.ErrClosed) {",
		tags: "dlq_redis", run: conformanceRedis},
}
