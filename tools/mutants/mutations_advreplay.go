package main

// advReplayMutations break what the redrive's adversary (session 24) found
// broken and fixed: the ledger's failure stopping the replay at once, one
// replay at a time on a checkpoint or a ledger, the flags told one by one,
// Retry-After read without overflow.
var advReplayMutations = []mutation{
	{name: "replay ledger: a failed ledger write does not stop the HTTP batch", file: "replay_target_http.go",
		old: "\t\t\tif err := rep.confirmed(i + 1); err != nil { // not recorded: send no more\n",
		new: "\t\t\tif err := rep.confirmed(i + 1); false && err != nil {\n",
		run: "^TestReplayLedgerDiskFull$"},
	{name: "replay ledger: a failed ledger told only with lines to add", file: "replay_ledger.go",
		old: "\tif l.err != nil { // even with nothing to add: the caller learns the ledger failed\n",
		new: "\tif l.err != nil && len(confirmed) > 0 {\n",
		run: "^TestReplayLedgerDiskFull$"},
	{name: "replay lock: two replays run on one checkpoint", file: "replay.go",
		old: "\trelease, err := lockReplay(&opts) // one replay at a time on a checkpoint or a ledger\n",
		new: "\trelease, err := func() {}, error(nil)\n",
		run: "^TestReplayLockRefusesASecondReplay$", timeout: "120s"},
	{name: "replay lock: the ledger not locked, only the checkpoint", file: "replay_lock.go",
		old: "{\"ledger\", opts.ledgerPath()}", new: "{\"ledger\", \"\"}",
		run: "^TestReplayLockRefusesASecondReplay$", timeout: "120s"},
	{name: "dlq replay: a negative --canary left to the library (not a usage error naming the flag)", file: "cmd/dlq/replay.go",
		old: "\tcase cmd.Int(\"canary\") < 0:\n", new: "\tcase false:\n",
		pkg: "./cmd/dlq", run: "^TestReplayCanaryFlagsRefused$"},
	{name: "dlq replay: a bad --abort-above told with the other canary flags", file: "cmd/dlq/replay.go",
		old: "\t\treturn fmt.Errorf(\"%w: --abort-above %q is not a share",
		new: "\t\treturn fmt.Errorf(\"%w: --canary-wait, --abort-above %q is not a share",
		pkg: "./cmd/dlq", run: "^TestReplayCanaryFlagsRefused$"},
	{name: "replay HTTP: Retry-After seconds bounded after they became a Duration (overflow)", file: "replay_target_http.go",
		old: "\t\twait = time.Duration(min(s, int64(replayHTTPMaxBackoff/time.Second))) * time.Second\n",
		new: "\t\twait = time.Duration(s) * time.Second\n",
		run: "^TestReplayHTTPRetryAfter$"},
	{name: "replay HTTP: a Retry-After date ignored", file: "replay_target_http.go",
		old: "\t} else if at, err := http.ParseTime(header); err == nil {\n",
		new: "\t} else if at, err := http.ParseTime(header); false && err == nil {\n",
		run: "^TestReplayHTTPRetryAfter$"},
}
