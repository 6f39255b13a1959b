package main

// dlqgenMutations break the promises of the benchmarks' data generator
// (benchmarks/internal/dlqgen, issue 21): the same seed writes the same
// bytes, the folder has its shape, and the manifest is the ground truth
// the dlq command reports.
var dlqgenMutations = []mutation{
	{name: "dlqgen: ids drawn from an unseeded stream", file: "benchmarks/internal/dlqgen/gen.go",
		old: "ids:     rand.New(rand.NewPCG(o.Seed, 3)),", new: "ids:     rand.New(rand.NewPCG(rand.Uint64(), 3)),",
		pkg: "./benchmarks/internal/dlqgen", run: "^TestWriteIsDeterministic$"},
	{name: "dlqgen: the writer's clock runs on (rotated files named by the wall clock)", file: "benchmarks/internal/dlqgen/write.go",
		old: "Clock:  func() time.Time { return time.UnixMilli(now.Load()) },", new: "Clock:  time.Now,",
		pkg: "./benchmarks/internal/dlqgen", run: "^TestWriteIsDeterministic$"},
	{name: "dlqgen: the UUIDv7 does not carry the entry's time", file: "benchmarks/internal/dlqgen/tokens.go",
		old: "hi := uint64(ms)<<16 | r.Uint64()&0x0fff | 0x7000", new: "hi := uint64(ms)<<12 | r.Uint64()&0x0fff | 0x7000",
		pkg: "./benchmarks/internal/dlqgen", run: "^TestWriteLayout$/samples"},
	{name: "dlqgen: the newest rotated files gzipped too (Plain ignored)", file: "benchmarks/internal/dlqgen/write.go",
		old: "if !compress || o.Plain == 0 || i == o.N {", new: "if true {",
		pkg: "./benchmarks/internal/dlqgen", run: "^TestWriteLayout$/files"},
	{name: "dlqgen: a bug's reason left out of the manifest's counts", file: "benchmarks/internal/dlqgen/write.go",
		old: "\tm.Reasons[e.Reason]++\n", new: "\tif b != 2 {\n\t\tm.Reasons[e.Reason]++\n\t}\n",
		pkg: "./benchmarks", run: "^TestManifestMatchesInspect$/reasons"},
	{name: "dlqgen: the manifest's hours shifted by one", file: "benchmarks/internal/dlqgen/write.go",
		old: "at := o.Start.Add(time.Duration(h) * time.Hour).UTC()", new: "at := o.Start.Add(time.Duration(h+1) * time.Hour).UTC()",
		pkg: "./benchmarks", run: "^TestManifestMatchesInspect$/hours"},
}
