// Package dlqkafkago connects a segmentio/kafka-go consumer group Reader
// to a dlq.Orchestrator: it builds each failed message's dead letter,
// keeps the group's commits in step with the DLQ, and stops fetching while
// the DLQ's storm brake is tripped. dlqkgo does the same for franz-go.
//
// The commit rule is Kafka Connect's (KAFKA-10658): an offset moves past a
// failed message only once its dead letter is durable. Messages may be
// processed concurrently and finished in any order: Commit commits, for
// each partition, up to the first message that is neither done nor
// dead-lettered durably.
//
// # The loop
//
//	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "loader", Topic: "events"})
//	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{Classify: reasonOf})
//	...
//	for {
//		msg, err := c.Fetch(ctx) // waits out a storm; offers refused dead letters again
//		if err != nil {
//			break // ctx ended, or the Reader was closed
//		}
//		if err := handle(msg); err != nil {
//			_ = c.DeadLetter(ctx, msg, err) // ErrNotDone: held, offered again by Fetch
//		} else {
//			c.Done(msg) // Orchestrator.Ok, and Commit may move past msg
//		}
//		if time.Since(last) > time.Second { // commit in batches: each Commit flushes the DLQ
//			if err := c.Commit(ctx); err != nil {
//				log.Print(err)
//			}
//			last = time.Now()
//		}
//	}
//	// SIGTERM: a last Commit (it flushes the DLQ), then r.Close, then o.Close.
//
// The Reader must have a GroupID, and should keep ReaderConfig's
// CommitInterval at 0 (synchronous commits, so that Commit returns once
// the broker has them). Never call the Reader's ReadMessage or
// CommitMessages beside the Consumer: ReadMessage commits each message as
// it is read, past dead letters that may not be durable.
//
// Commit commits what needs no Flush first; then, when dead letters wait
// to be durable, it flushes the DLQ and commits what that made durable.
// When the flush fails (a full disk, a backend down, ctx ended), the
// offsets stay at the first dead letter not durable, and the next Commit
// tries again. When the DLQ lost an entry (Retry.MaxAttempts spent), the
// Consumer cannot tell whose it was: it holds again every dead letter not
// yet known durable, Fetch offers them again, and the DLQ may then hold
// some twice (their ids differ; the Source coordinates tell them apart).
//
// # The dead letter
//
// Entry builds a message's dead letter: its topic, partition and offset as the
// Source and its topic as the Destination, its key, headers and value, and
// a reason from Options.Classify. The entry's Timestamp is when the
// message failed (Send stamps it with the Orchestrator's clock), not when it
// was produced, so that dlq inspect --since 1h lists what failed in the
// last hour, whatever the message's age or its producer's clock. The
// message's own timestamp is kept in the entry's Metadata under
// MetadataTimestamp ("kafka.timestamp").
//
// # The storm brake
//
// kafka-go's Reader cannot pause its partitions, and within a consumer
// group it cannot seek back either. So while the Orchestrator's storm
// brake is tripped (dlq.Config.Storm), Fetch waits, fetching nothing, and
// looks again with a backoff (Options.Backoff, doubling to
// Options.MaxBackoff). The Reader fetches ahead into its queue
// (ReaderConfig.QueueCapacity messages) and then stops too.
//
// A message fetched before the trip and dead-lettered after it is refused
// (DeadLetter's error matches ErrNotDone and dlq.ErrStorm). The Consumer
// holds its dead letter, and the commit stays before it. Once the brake
// clears, Fetch offers the held dead letters again, oldest first, and
// fetches only when the DLQ has taken them all and the brake is still off
// (a held dead letter may trip it again at once: one goes in per
// cool-down then). So nothing is read twice and nothing needs a restart.
// With the storm action signal the brake refuses nothing, but Fetch waits
// all the same: stopping is what the Consumer does with the signal.
//
// # Rebalances
//
// kafka-go's Reader tells nothing of a rebalance; it restarts each
// partition it is given at the group's committed offset, and hands out
// again what was fetched but not committed. The Consumer sees a message at
// or before one it already had, and forgets from there what it knew of
// the partition (held dead letters included: their messages come again).
// Messages done but not committed when a partition moves to another
// member are read again there: at-least-once, never a message committed
// past a dead letter that is not durable.
package dlqkafkago
