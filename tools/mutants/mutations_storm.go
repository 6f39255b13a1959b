package main

// stormTests is every test of the storm brake in the core.
const stormTests = "^TestStorm|^Example_stormBrake$"

// stormMutations break the storm brake (issue 22): storm.go (what senders
// and Ok do), storm_brake.go (the window, trips, clears, the event's tops)
// and its metrics.
var stormMutations = []mutation{
	// Tripping on the ratio.
	{name: "storm: trips at a ratio equal to max_ratio", file: "storm_brake.go",
		old: "cfg.MaxRatio > 0 && ratio > cfg.MaxRatio &&", new: "cfg.MaxRatio > 0 && ratio >= cfg.MaxRatio &&",
		run: stormTests},
	{name: "storm: trips on the count alone, whatever the ratio", file: "storm_brake.go",
		old: "cfg.MaxRatio > 0 && ratio > cfg.MaxRatio &&", new: "cfg.MaxRatio > 0 &&",
		run: stormTests},
	{name: "storm: min_events ignored", file: "storm_brake.go",
		old: "l.window.sumDead+l.window.sumOk >= uint64(cfg.MinEvents) &&", new: "true &&",
		run: stormTests},
	{name: "storm: trips again without a dead letter since the clear", file: "storm_brake.go",
		old: " && dead > l.deadAtClear {", new: " {",
		run: stormTests},
	{name: "storm: the window never forgets a bucket", file: "storm_brake.go",
		old: "\t\t\tw.sumDead -= w.dead[slot]\n", new: "",
		run: stormTests},

	// Clearing.
	{name: "storm: clears before the cool-down", file: "storm_brake.go",
		old: "case l.announced && at.Sub(l.since) >= ms(cfg.CoolDownMS):", new: "case l.announced:",
		run: stormTests},
	{name: "storm: never clears", file: "storm_brake.go",
		old: "case l.announced && at.Sub(l.since) >= ms(cfg.CoolDownMS):", new: "case false:",
		run: "^TestStormCoolDown$|^TestStormConsecutive$", timeout: "120s"},

	// The brake's own time: a clock that steps back is no time.
	{name: "storm: the window follows a clock that stepped back", file: "storm_brake.go",
		old: "\tl.window.add(at, dead, b.ok.Load())", new: "\tl.window.add(now, dead, b.ok.Load())",
		run: "^TestStormClockStepsBack$"},
	{name: "storm: the cool-down waits for a clock that stepped back", file: "storm_brake.go",
		old: "case l.announced && at.Sub(l.since) >= ms(cfg.CoolDownMS):", new: "case l.announced && now.Sub(l.since) >= ms(cfg.CoolDownMS):",
		run: "^TestStormClockStepsBack$", timeout: "120s"},

	// Runs of consecutive dead letters.
	{name: "storm: Ok does not end a run", file: "storm.go",
		old: "\tb.ok.Add(1)\n\tif b.maxRun > 0 {", new: "\tb.ok.Add(1)\n\tif false {",
		run: stormTests},
	{name: "storm: a run is tripped only by the brake's goroutine, not by the Send", file: "storm.go",
		old: "\tif b.maxRun > 0 {\n\t\tb.deadLetter(total)\n\t}", new: "",
		run: "^TestStorm", timeout: "120s"},

	// Refusing.
	{name: "storm: a refused entry is not counted", file: "storm.go",
		old: "\t\to.admission.storm.Add(1)\n", new: "",
		run: stormTests},
	{name: "storm: refused after entering (Close waits for it forever)", file: "storm.go",
		old: "\tif b.refuse && b.tripped.Load() && o.admission.state.Load()&closedBit == 0 {\n\t\to.admission.storm.Add(1)\n\t\treturn ErrStorm, false\n\t}\n\ttotal := o.admission.state.Add(1)\n",
		new: "\ttotal := o.admission.state.Add(1)\n\tif b.refuse && b.tripped.Load() && o.admission.state.Load()&closedBit == 0 {\n\t\to.admission.storm.Add(1)\n\t\treturn ErrStorm, false\n\t}\n",
		run: "^TestStormRatioTrips$", timeout: "60s"},
	{name: "storm: refuses after Close instead of ErrClosed", file: "storm.go",
		old: "b.refuse && b.tripped.Load() && o.admission.state.Load()&closedBit == 0 {", new: "b.refuse && b.tripped.Load() {",
		run: stormTests},
	{name: "storm: signal refuses too", file: "storm.go",
		old: "refuse:  cfg.Storm.Action == StormRefuse,", new: "refuse:  true,",
		run: stormTests},

	// The event's tops.
	{name: "storm: the drain keeps no recent letters", file: "stats.go",
		old: "\t\td.noteLetter(&r.entry)\n", new: "",
		run: stormTests},
	{name: "storm: letters taken by a Flush never published", file: "drain.go",
		old: "\td.publishLetters()\n\tif len(d.pending) == 0 {", new: "\tif len(d.pending) == 0 {",
		run: stormTests},
	{name: "storm: tops unsorted", file: "storm_brake.go",
		old: "return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))", new: "return cmp.Compare(a.Key, b.Key)",
		run: stormTests},

	// Stats and metrics.
	{name: "storm: Stats without the storm refusals", file: "stats.go",
		old: "\t\tReasonStorm:     a.storm.Load(),\n", new: "",
		run: stormTests},
	{name: "dlqprom: dlq_storm_tripped stays 0", file: "dlqprom/collector.go",
		old: "\tif s.StormTripped {\n\t\ttripped = 1\n\t}\n", new: "",
		pkg: "./dlqprom", run: "^TestScrapeStormBrake$"},
	{name: "dlqotel: dlq.storm.tripped stays 0", file: "dlqotel/metrics.go",
		old: "\tif s.StormTripped {\n\t\ttripped = 1\n\t}\n", new: "",
		pkg: "./dlqotel", run: "^TestCollectStormBrake$"},
}
