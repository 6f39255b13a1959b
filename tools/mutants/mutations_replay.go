package main

// replayMutations break dlq replay: its rate, dry run, checkpoint and targets (cmd/dlq).
//
// Left out as equivalent: a dry run that calls the checkpoint's final save.
// A dry run never sends, so nothing moves the confirmed position, and save
// writes only when that moved.
var replayMutations = []mutation{
	// The two the issue named as missed.
	{name: "replay --rate ignored", file: "cmd/dlq/replay.go",
		old: "\t\trun.limiter = newLimiter(rate)\n", new: "\t\trun.limiter = newLimiter(0)\n",
		pkg: "./cmd/dlq", run: "^TestReplayRateCapsSends$"},
	{name: "replay --dry-run queues messages to send", file: "cmd/dlq/replay.go",
		old: "\t\tif dryRun {\n\t\t\trun.sent++\n\t\t\tcontinue\n\t\t}\n", new: "\t\tif dryRun {\n\t\t\trun.sent++\n\t\t}\n",
		pkg: "./cmd/dlq", run: "^TestReplayDryRunWritesNothing$"},

	// The checkpoint (issue 19).
	{name: "replay checkpoint: an entry counted handled before the rate wait lets it go", file: "cmd/dlq/replay.go",
		old: "\t\tif wait := run.limiter.reserve(time.Now()); wait > 0 {\n",
		new: "\t\trun.handled = rec.Position\n\t\tif wait := run.limiter.reserve(time.Now()); wait > 0 {\n",
		pkg: "./cmd/dlq", run: "^TestReplayInterruptedWithRateResumes$/interrupt"},
	{name: "replay checkpoint: a batch the target confirmed in part is not recorded", file: "cmd/dlq/replay.go",
		old: "\trun.cp.Position, run.cp.Replayed = run.pending[sent-1].pos, run.base+run.sent\n",
		new: "\tif sent == len(run.pending) {\n\t\trun.cp.Position, run.cp.Replayed = run.pending[sent-1].pos, run.base+run.sent\n\t}\n",
		pkg: "./cmd/dlq", run: "^TestReplayCheckpointResumes$"},
	{name: "replay checkpoint: not written when the run stops", file: "cmd/dlq/replay.go",
		old: "\t\tsaveErr = run.save() // what the target confirmed, however the run ended\n", new: "",
		pkg: "./cmd/dlq", run: "^TestReplayCheckpointResumes$"},
	{name: "replay checkpoint: rewritten at every flush with --rate", file: "cmd/dlq/replay.go",
		old: "\t\treturn run.sent-run.saved >= run.every\n", new: "\t\treturn true\n",
		pkg: "./cmd/dlq", run: "^TestCheckpointWritesAFewTimesASecond$"},
	{name: "replay checkpoint: rewritten at every flush without --rate", file: "cmd/dlq/replay.go",
		old: "\treturn now.Sub(run.lastSave) >= checkpointInterval\n", new: "\treturn true\n",
		pkg: "./cmd/dlq", run: "^TestCheckpointWritesAFewTimesASecond$"},
	{name: "replay checkpoint: another replay's checkpoint reused", file: "cmd/dlq/checkpoint.go",
		old: "if diff := cp.differences(&want); len(diff) > 0 {", new: "if diff := cp.differences(&want); false && len(diff) > 0 {",
		pkg: "./cmd/dlq", run: "^TestReplayCheckpointRefusesAnotherReplay$"},
	{name: "replay checkpoint: a resumed relative --since resolved anew", file: "cmd/dlq/replay.go",
		old: "\t\trun.cp.Filter.apply(&filter)\n", new: "",
		pkg: "./cmd/dlq", run: "^TestReplayCheckpointKeepsItsSince$"},

	// The rate limiter.
	{name: "replay --rate: a sender behind its schedule catches up without bound", file: "cmd/dlq/rate.go",
		old: "if floor := now.Add(-rateBurst); l.next.Before(floor) {", new: "if floor := now.Add(-time.Hour); l.next.Before(floor) {",
		pkg: "./cmd/dlq", run: "^TestLimiterCapsEverySpan$"},

	// The HTTP target's redirects.
	{name: "replay HTTP target: a 301/302/303 followed (the POST becomes a GET)", file: "cmd/dlq/target_http.go",
		old: "if code != http.StatusTemporaryRedirect && code != http.StatusPermanentRedirect || origin(req.URL) != origin(via[0].URL) {",
		new: "if _ = code; origin(req.URL) != origin(via[0].URL) {",
		pkg: "./cmd/dlq", run: "^TestReplayHTTPRedirects$"},
	{name: "replay HTTP target: a 307/308 followed to another host or scheme", file: "cmd/dlq/target_http.go",
		old: "if code != http.StatusTemporaryRedirect && code != http.StatusPermanentRedirect || origin(req.URL) != origin(via[0].URL) {",
		new: "if code != http.StatusTemporaryRedirect && code != http.StatusPermanentRedirect {",
		pkg: "./cmd/dlq", run: "^TestReplayHTTPRedirects$"},
}
