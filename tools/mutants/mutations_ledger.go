package main

// ledgerMutations break the replay ledger, OnlyPending and the audit
// record (replay_ledger.go, replay_audit.go, issue 23), and inspect
// --replayed.
var ledgerMutations = []mutation{
	{name: "replay ledger: not fsynced before the checkpoint moves", file: "replay.go",
		old: "\tif err := run.ledger.sync(); err != nil { // the ledger is never behind the checkpoint\n",
		new: "\tif err := error(nil); err != nil {\n",
		run: "^TestReplayLedgerPowerLoss$"},
	{name: "replay ledger: the whole batch recorded, confirmed or not", file: "replay_ledger.go",
		old: "\tif err := run.ledger.record(run.pending[from:sent]); err != nil {\n",
		new: "\tif err := run.ledger.record(run.pending[from:]); err != nil {\n",
		run: "^TestReplayLedger$"},
	{name: "replay ledger: an HTTP batch recorded only once it is all sent (a kill resends the batch, not the request)", file: "replay_target_http.go",
		old: "\t\tif rep.confirmed != nil {\n", new: "\t\tif false {\n",
		pkg: "./cmd/dlq", run: "^TestReplayLedgerAcrossKill$"},
	{name: "replay ledger: OnlyPending skips the ids of every target", file: "replay_ledger.go",
		old: "\t\tif rec.Target == l.to {\n", new: "\t\tif true {\n",
		run: "^TestReplayLedger$"},
	{name: "replay ledger: a torn last line not cut", file: "replay_ledger.go",
		old: "\tcase st.Size() > end:\n", new: "\tcase false:\n",
		run: "^TestReplayLedgerTornLine$"},
	{name: "replay ledger: OnlyPending ignored", file: "replay_ledger.go",
		old: "\treturn l != nil && l.done != nil && id != \"\" && l.done.has(id)\n", new: "\treturn false\n",
		pkg: "./cmd/dlq", run: "^TestReplayLedgerAcrossKill$"},
	{name: "replay audit: a record torn by a kill not ended", file: "replay_audit.go",
		old: "\t\t\tline = append([]byte{'\\n'}, line...)\n", new: "",
		run: "^TestReplayAudit$"},
	{name: "replay audit: a failed target told as stopped", file: "replay_audit.go",
		old: "\tcase errors.Is(ended, ErrTargetFailed):\n\t\trec.Outcome = \"target failed\"\n", new: "",
		run: "^TestReplayAudit$"},
	{name: "inspect --replayed: every entry counted as come back", file: "cmd/dlq/inspect_replayed.go",
		old: "\t\tif _, ok := ids[of]; !ok || of == \"\" {\n", new: "\t\tif false {\n",
		pkg: "./cmd/dlq", run: "^TestReplayLedgerAcrossKill$"},
}
