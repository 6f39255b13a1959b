package main

// mutation breaks one promise on purpose: in file, the text old becomes
// new; the tests matching run (in pkg, with tags) must then fail.
type mutation struct {
	name     string
	file     string
	old, new string
	tags     string
	pkg      string // "" is the module root
	run      string
	skip     string // tests that fail without the mutation, for a known reason
}

// skipUnfixed leaves out the power-loss cases the base file backend fails
// on its own (a folder New creates is never made durable): with them in, a
// mutation would be "caught" by a failure it did not cause.
const skipUnfixed = "TestPowerLossKeepsEveryFlushedEntry/service_folder_created_by_New"

// powerLossRun is the power-loss tests that pass on the base file backend.
const powerLossRun = "^TestPowerLoss(KeepsEveryFlushedEntry|AcrossSizeRotation|AcrossTimeRotation)$"

// mutations lists the promises the issue named (the first five) and others.
// A mutation whose old text is no longer in the file is reported stale:
// update it to the code as it now reads.
var mutations = []mutation{
	{name: "file backend: no fsync of the file", file: "file.go",
		old: "if err := f.syncFD.Sync(); err != nil {", new: "if err := error(nil); err != nil {",
		run: powerLossRun, skip: skipUnfixed},
	{name: "file backend: no fsync of the folder", file: "file.go",
		old: "if err := dir.Sync(); err != nil {", new: "if err := error(nil); err != nil {",
		run: powerLossRun, skip: skipUnfixed},
	{name: "file backend: folder not fsynced after a rotation", file: "file.go",
		old: "\tf.period = f.periodOf(f.clock())\n\tf.dirChanged = true\n\treturn nil",
		new: "\tf.period = f.periodOf(f.clock())\n\treturn nil",
		run: powerLossRun, skip: skipUnfixed},
	{name: "Config.Order ignored", file: "orchestrator.go",
		old: "\treturn cfg.Order\n", new: "\treturn defaultOrder\n",
		tags: "dlq_all", run: "TestConfigOrderIsHonoured|TestCascade"},
	{name: "a fresh id on every retry", file: "drain.go",
		old:  "\td.o.drained.retried.Add(uint64(len(round)))\n",
		new:  "\td.o.drained.retried.Add(uint64(len(round)))\n\tfor _, r := range round {\n\t\tr.entry.ID = d.ids.next(r.entry.Timestamp)\n\t}\n",
		tags: "dlq_all", run: "TestIDs"},
	{name: "Redis: any XADD error fails the whole batch", file: "redis.go",
		old: "if firstError(bt.errs) == nil {", new: "if true {",
		tags: "dlq_redis", run: "TestRedis"},
	{name: "Kafka: acks all sent as RequireOne", file: "kafka.go",
		old: "\t\treturn kafka.RequireAll", new: "\t\treturn kafka.RequireOne",
		tags: "dlq_kafka", run: "TestKafka"},
	{name: "Kafka: zstd not applied", file: "kafka.go",
		old: "\t\treturn kafka.Zstd", new: "\t\treturn 0",
		tags: "dlq_kafka", run: "TestKafka"},
	{name: "Kafka: round-robin instead of key hash (order per destination)", file: "kafka.go",
		old: "&kafka.Hash{}", new: "&kafka.RoundRobin{}",
		tags: "dlq_kafka", run: "TestKafka"},
	{name: "Send allocates", file: "orchestrator.go",
		old: "func (o *Orchestrator) Send(e Entry) error {\n",
		new: "func (o *Orchestrator) Send(e Entry) error {\n\t_ = fmt.Sprintf(\"%d-%s\", e.Attempts, e.Reason)\n",
		run: "TestSendAllocatesNothing"},
	{name: "retry backoff does not double", file: "drain.go",
		old: "d.backoff = min(max(2*d.backoff, d.o.cfg.Retry.initialBackoff()), d.o.cfg.Retry.maxBackoff())",
		new: "d.backoff = d.o.cfg.Retry.initialBackoff()",
		run: "TestRetryBackoff"},
	{name: "retry backoff without jitter", file: "drain.go",
		old: "return b/2 + rand.N(b/2+1)", new: "return b + 0*rand.N(b/2+1)",
		run: "TestRetryBackoff"},
	{name: "cool-down ignored", file: "health.go",
		old: "\tif d.probing {", new: "\tif true || d.probing {",
		run: "TestFanOut"},
	{name: "OnError skipped for small failures", file: "drain.go",
		old: "\tif d.o.cfg.OnError != nil {", new: "\tif d.o.cfg.OnError != nil && n > 5 {",
		run: "TestOnError"},
	{name: "hourly/daily files not cut by size", file: "file.go",
		old: "if f.rotation() == RotateNone {", new: "if f.rotation() != RotateSize {",
		run: "TestFile"},
	{name: "HTTP: 308 refused", file: "http.go",
		old: "\t\t\t\treq.Response.StatusCode != http.StatusPermanentRedirect {", new: "\t\t\t\ttrue {",
		tags: "dlq_http", run: "TestHTTP"},
	{name: "HTTP: 429 not retried", file: "http.go",
		old:  "case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:",
		new:  "case resp.StatusCode == http.StatusServiceUnavailable:",
		tags: "dlq_http", run: "TestHTTP"},
	{name: "kafka_only also writes the file", file: "validate.go",
		old: "\t\tkinds = []Kind{KindKafka}", new: "\t\tkinds = []Kind{KindKafka, KindFile}",
		tags: "dlq_all", run: "TestFileOnlyAndKafkaOnlyModes"},
	{name: "file_only also writes HTTP", file: "validate.go",
		old: "\t\tkinds = []Kind{KindFile}", new: "\t\tkinds = []Kind{KindFile, KindHTTP}",
		tags: "dlq_all", run: "TestFileOnlyAndKafkaOnlyModes"},
	{name: "lossyfs: file fsync keeps nothing", file: "internal/lossyfs/node.go",
		old: "n.st().syncFile(inoOf(info), info.Size())", new: "_ = info",
		pkg: "./internal/lossyfs", run: "."},
	{name: "lossyfs: folder fsync keeps nothing", file: "internal/lossyfs/node.go",
		old: "return fs.ToErrno(n.st().syncDir(p))", new: "return 0",
		pkg: "./internal/lossyfs", run: "."},
}
