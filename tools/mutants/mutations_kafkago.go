package main

// kafkagoMutations break the kafka-go consumer adapter (dlqkafkago, issue
// 22): the commit rule (KAFKA-10658: never past a dead letter that is not
// durable), the ledger's messages in flight and after a rebalance, and
// Fetch waiting out the storm brake with the refused dead letters held.
var kafkagoMutations = []mutation{
	// The commit rule.
	{name: "dlqkafkago: Commit does not flush the DLQ", file: "dlqkafkago/commit.go",
		old: "\terr := c.o.Flush(ctx)\n", new: "\tvar err error\n",
		pkg: "./dlqkafkago", run: "^TestCommitFollowsTheDLQ$|^TestCommitSurvivesSIGKILL$|^TestGroupSurvivesRebalancesAndKills$"},
	{name: "dlqkafkago: an accepted dead letter counts as durable", file: "dlqkafkago/ledger.go",
		old: "if r.state == accepted && r.epoch < l.durable {", new: "if r.state == accepted {",
		pkg: "./dlqkafkago", run: "^TestCommitFollowsTheDLQ$"},
	{name: "dlqkafkago: commit past messages in flight", file: "dlqkafkago/ledger.go",
		old: "\t\t\tif r.state != done {\n\t\t\t\tbreak\n", new: "\t\t\tif r.state == held || r.state == accepted {\n\t\t\t\tbreak\n",
		pkg: "./dlqkafkago", run: "^TestCommitWaitsForMessagesInFlight$"},
	{name: "dlqkafkago: no commit of what needs no Flush before flushing", file: "dlqkafkago/commit.go",
		old: "\tif err := c.commit(ctx, msgs); err != nil {\n\t\treturn err\n\t}\n\tn := c.ledger.beginFlush()",
		new: "\tn := c.ledger.beginFlush()",
		pkg: "./dlqkafkago", run: "^TestCommitFollowsTheDLQ$"},
	{name: "dlqkafkago: a lost dead letter is not held again", file: "dlqkafkago/commit.go",
		old: "\t\tc.ledger.lost()\n", new: "",
		pkg: "./dlqkafkago", run: "^TestCommitOffersLostDeadLettersAgain$"},
	{name: "dlqkafkago: the ledger does not go back with the Reader", file: "dlqkafkago/ledger.go",
		old: "if n := len(p.recs); n > 0 && p.recs[n-1].offset >= at.offset {", new: "if false {",
		pkg: "./dlqkafkago", run: "^TestLedgerForgetsWhatTheReaderReadsAgain$"},

	// The storm brake.
	{name: "dlqkafkago: Fetch does not wait out a tripped brake", file: "dlqkafkago/consumer.go",
		old: "\tif err := c.settle(ctx); err != nil {\n\t\treturn kafka.Message{}, err\n\t}\n", new: "\t_ = c.offerHeld(ctx)\n",
		pkg: "./dlqkafkago", run: "^TestStormBadDeploy$|^TestStormHeldDeadLetterIsOfferedAgainWhenTheBrakeClears$"},
	{name: "dlqkafkago: a refused dead letter is not held", file: "dlqkafkago/consumer.go",
		old: "if c.ledger.hold(msg, &e) {", new: "if false {",
		pkg: "./dlqkafkago", run: "^TestStormHeldDeadLetterIsOfferedAgainWhenTheBrakeClears$"},
	{name: "dlqkafkago: held dead letters offered while the brake is tripped again", file: "dlqkafkago/storm.go",
		old: "\t\tif c.o.Storm() { // the last one tripped it again", new: "\t\tif false { // the last one tripped it again",
		pkg: "./dlqkafkago", run: "^TestStormHeldDeadLetterIsOfferedAgainWhenTheBrakeClears$"},

	// The dead letter.
	{name: "dlqkafkago: Entry's Timestamp is the message's produce time (the old mapping)", file: "dlqkafkago/entry.go",
		old: "\t\te.Metadata = map[string]string{MetadataTimestamp: formatTimestamp(msg.Time)}\n", new: "\t\te.Timestamp = msg.Time\n",
		pkg: "./dlqkafkago", run: "^TestEntry$|^TestEntryRoundTrip$|^TestEntryTimestampIsWhenTheMessageFailed$"},
	{name: "dlqkafkago: Entry stamps the message's produce time as well as keeping it in Metadata", file: "dlqkafkago/entry.go",
		old: "\t\te.Metadata = map[string]string{MetadataTimestamp: formatTimestamp(msg.Time)}\n",
		new: "\t\te.Timestamp = msg.Time\n\t\te.Metadata = map[string]string{MetadataTimestamp: formatTimestamp(msg.Time)}\n",
		pkg: "./dlqkafkago", run: "^TestEntryTimestampIsWhenTheMessageFailed$"},
	{name: "dlqkafkago: MetadataTimestamp in the message's zone, not UTC", file: "dlqkafkago/entry.go",
		old: "\treturn t.UTC().Format(timestampLayout)", new: "\treturn t.Format(timestampLayout)",
		pkg: "./dlqkafkago", run: "^TestEntry$"},
}
