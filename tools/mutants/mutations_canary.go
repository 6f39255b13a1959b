package main

// canaryMutations break the replay's canary (replay_canary.go and its
// calls in replay.go) and the dlq replay flags over it.
//
// Left out as equivalent or out of a test's reach:
//   - ids registered after the send rather than before: the consumer's
//     dead-letters reach the watcher after the batch is confirmed in
//     every run a test can make; a consumer slower than the watcher's
//     poll is needed to miss them.
//   - the canary's wait without its early end (a kick ignored): the abort
//     still comes, CanaryWait later; only a timed assertion tells.
//   - the watcher's backlog not skipped: what it reads before it caught up
//     is read before any id is registered, so it is never counted anyway.
var canaryMutations = []mutation{
	{name: "canary: the batch is not cut at the canary's size", file: "replay.go",
		old: "\t\tif run.canary.cut(run.sent, len(run.pending)) && run.flush(ctx) != nil {\n\t\t\tbreak\n\t\t}\n", new: "",
		run: "^TestReplayCanaryCutsTheBatch$"},
	{name: "canary: windows of the main run not judged while it runs", file: "replay_canary.go",
		old: "\treturn c.judge(now, false)\n}\n", new: "\treturn nil\n}\n",
		run: "^TestReplayCanaryHalfFixed$"},
	{name: "canary: the last window not waited for", file: "replay.go",
		old: "\t\trun.err = run.canary.end(ctx)\n", new: "",
		run: "^TestReplayCanaryLastWindow$"},
	{name: "canary: the last window judged as a whole one", file: "replay_canary.go",
		old: "\t\tlast.size = last.count\n", new: "",
		run: "^TestReplayCanaryLastWindow$"},
	{name: "canary: AbortAbove ignored", file: "replay_canary.go",
		old: "float64(win.back)/float64(win.size) > c.above", new: "float64(win.back)/float64(win.size) > 0",
		run: "^TestReplayCanaryLastWindow$"},
	{name: "canary: dlq.replay_of matched in its own case only", file: "replay_canary.go",
		old: "strings.EqualFold(e.Headers[i].Key, HeaderReplayOf)", new: "e.Headers[i].Key == HeaderReplayOf",
		run: "^TestReplayCanaryStillFailing$"},
	{name: "canary: Watch ignored", file: "replay_canary.go",
		old: "\twatch := cmp.Or(opts.Watch, src)\n", new: "\twatch := src\n",
		pkg: "./cmd/dlq", run: "^TestReplayCanaryStopsCommand$"},
	{name: "canary: the watcher outlives Replay", file: "replay.go",
		old: "\tdefer run.canary.stop()\n", new: "",
		run: "^TestReplayCanaryFixed$"},
	{name: "dlq replay: --abort-above read as a share when given in %", file: "cmd/dlq/canary.go",
		old: "\t\ttext, scale = strings.TrimSpace(t), 100\n", new: "\t\ttext = strings.TrimSpace(t)\n",
		pkg: "./cmd/dlq", run: "^TestReplayCanaryStopsCommand$|^TestShareOf$"},
}
