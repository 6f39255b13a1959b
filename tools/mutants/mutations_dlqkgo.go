package main

// dlqkgoMutations break the franz-go consumer adapter (dlqkgo, issue 22):
// the commit rule (an offset moves past a failed record only once its
// dead letter is durable), the reading again of a record whose dead letter
// was refused or lost, and the pause while the storm brake is tripped.
var dlqkgoMutations = []mutation{
	{name: "dlqkgo: Commit does not wait for the Flush (commits before the dead letters are durable)", file: "dlqkgo/commit.go",
		old: "\tferr := c.o.Flush(fctx)\n", new: "\tvar ferr error\n\t_ = fctx\n",
		pkg: "./dlqkgo", run: "^TestCommitFollowsTheDLQOnAFullDisk$|^TestConsumerReadsARefusedRecordAgain$"},
	{name: "dlqkgo: a failed Flush commits everything done", file: "dlqkgo/ledger.go",
		old: "\t\t\tto = earlier(to, p.flushing)\n", new: "",
		pkg: "./dlqkgo", run: "^TestLedgerFailedFlushStopsAtTheFirstDeadLetter$|^TestCommitFollowsTheDLQOnAFullDisk$"},
	{name: "dlqkgo: ErrStorm ignored (a refused dead letter counted done)", file: "dlqkgo/consumer.go",
		old: "\tif serr := c.o.SendContext(ctx, e); serr != nil {", new: "\tif serr := c.o.SendContext(ctx, e); serr != nil && false {",
		pkg: "./dlqkgo", run: "^TestStormPausesAndResumes$|^TestConsumerReadsARefusedRecordAgain$"},
	{name: "dlqkgo: a refused record's partition not read again", file: "dlqkgo/consumer.go",
		old: "\tif set := c.ledger.rewinds(); set != nil {", new: "\tif set := c.ledger.rewinds(); false && set != nil {",
		pkg: "./dlqkgo", run: "^TestStormPausesAndResumes$", timeout: "150s"}, // the loop waits for the records until its deadline
	{name: "dlqkgo: Records hands out the records after a refused one", file: "dlqkgo/consumer.go",
		old: "\t\t\t\t\t\tif c.ledger.skipped(rec) {", new: "\t\t\t\t\t\tif false {",
		pkg: "./dlqkgo", run: "^TestConsumerReadsARefusedRecordAgain$"},
	{name: "dlqkgo: a refused record does not stop its partition's commit", file: "dlqkgo/ledger.go",
		old: "\tif p.rewind.set() && rec.Offset >= p.rewind.offset || rec.Offset < p.next.offset {", new: "\tif rec.Offset < p.next.offset {",
		pkg: "./dlqkgo", run: "^TestLedgerRefusedRecordStopsItsPartitionUntilReadAgain$|^TestConsumerReadsARefusedRecordAgain$"},
	{name: "dlqkgo: lost dead letters not read again", file: "dlqkgo/ledger.go",
		old: "\t\t\t\tp.rewind = earlier(p.rewind, first)\n", new: "",
		pkg: "./dlqkgo", run: "^TestCommitReadsAgainWhatTheDLQLost$|^TestLedgerLoss"},
	{name: "dlqkgo: Commit blind to losses another Flush reported (Stats.Lost not read)", file: "dlqkgo/commit.go",
		old: "\tif n := c.o.Stats().Lost; n != c.lostSeen {", new: "\tif n := c.o.Stats().Lost; false && n != c.lostSeen {",
		pkg: "./dlqkgo", run: "^TestCommitReadsAgainWhatTheDLQLost$/another"},
	{name: "dlqkgo: no pause while the storm brake is tripped", file: "dlqkgo/storm.go",
		old: "\t\tc.cl.PauseFetchTopics(more...)\n", new: "",
		pkg: "./dlqkgo", run: "^TestStormBadDeploy$"},
	{name: "dlqkgo: Poll blind to the storm brake (no pause, no wait)", file: "dlqkgo/storm.go",
		old: "\tif !c.o.Storm() {\n\t\tc.resume()\n\t\treturn nil\n\t}\n\ttick", new: "\tif true {\n\t\tc.resume()\n\t\treturn nil\n\t}\n\ttick",
		pkg: "./dlqkgo", run: "^TestStormPausesAndResumes$|^TestStormBadDeploy$"},
	{name: "dlqkgo: Done commits a record Poll did not return", file: "dlqkgo/consumer.go",
		old: "\tif !c.ledger.handedOut(rec) {\n\t\treturn\n\t}", new: "",
		pkg: "./dlqkgo", run: "^TestConsumerIgnoresARecordItDidNotPoll$"},
	{name: "dlqkgo: DeadLetter sends a record Poll did not return", file: "dlqkgo/consumer.go",
		old: "\tif !c.ledger.handedOut(rec) {\n\t\treturn fmt.Errorf(", new: "\tif false {\n\t\treturn fmt.Errorf(",
		pkg: "./dlqkgo", run: "^TestConsumerIgnoresARecordItDidNotPoll$"},
	{name: "dlqkgo: Entry drops a header's order (last first)", file: "dlqkgo/entry.go",
		old: "\t\t\te.Headers[i] = dlq.Header{Key: h.Key, Value: h.Value}", new: "\t\t\te.Headers[len(rec.Headers)-1-i] = dlq.Header{Key: h.Key, Value: h.Value}",
		pkg: "./dlqkgo", run: "^TestEntry$"},
}
