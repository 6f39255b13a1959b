// Package dlqkgo connects a franz-go (kgo) consumer to a dlq.Orchestrator:
// it builds each failed record's dead letter, keeps the consumer's commits
// in step with the DLQ, and pauses fetching while the DLQ's storm brake is
// tripped.
//
// The commit rule is Kafka Connect's (KAFKA-10658): an offset moves past a
// failed record only once its dead letter is durable. A record whose dead
// letter the DLQ refused (the storm brake, a queue that stays full) is not
// done: nothing at or after it in its partition is committed, and the
// consumer reads it again, in the same process, once the brake clears.
// None is lost, none is skipped, without a restart.
//
// # The client
//
// The client must be a group consumer with autocommitting disabled: the
// Consumer commits.
//
//	cl, err := kgo.NewClient(
//		kgo.SeedBrokers(brokers...),
//		kgo.ConsumerGroup("loader"),
//		kgo.ConsumeTopics("events"),
//		kgo.DisableAutoCommit(),    // required: New checks it
//		kgo.BlockRebalanceOnPoll(), // recommended: rebalances between batches
//	)
//	c, err := dlqkgo.New(cl, o, dlqkgo.Options{Classify: reasonOf})
//
// # The loop
//
//	for {
//		fetches := c.Poll(ctx) // reads refused records again; waits out a storm, paused
//		if fetches.IsClientClosed() || ctx.Err() != nil {
//			break
//		}
//		for rec := range c.Records(fetches) { // leaves out what will be read again
//			if err := handle(rec); err != nil {
//				_ = c.DeadLetter(ctx, rec, err) // ErrNotDone: read again later
//				continue
//			}
//			c.Done(rec) // Orchestrator.Ok, and the record may be committed
//		}
//		if err := c.Commit(ctx); err != nil { // Flush, then commit what is durable
//			log.Print(err)
//		}
//	}
//	// SIGTERM: a last Commit (it flushes), then cl.CloseAllowingRebalance
//	// (Close would wait for the rebalance the last Poll blocks), then o.Close.
//
// Commit as often as the DLQ can afford a Flush (every Poll, or every few
// thousand records, or every second): each Commit waits for the dead
// letters to be durable (an fsync for the file backend, the brokers' acks
// for Kafka).
//
// # The dead letter
//
// Entry builds a record's dead letter: its topic, partition and offset as the
// Source and its topic as the Destination, its key, headers and value, and
// a reason from Options.Classify. The entry's Timestamp is when the
// record failed (Send stamps it with the Orchestrator's clock), not when it
// was produced, so that dlq inspect --since 1h lists what failed in the
// last hour, whatever the record's age or its producer's clock. The
// record's own timestamp is kept in the entry's Metadata under
// MetadataTimestamp ("kafka.timestamp").
//
// # The storm brake
//
// While the Orchestrator's storm brake is tripped (dlq.Config.Storm),
// DeadLetter's error matches dlq.ErrStorm and ErrNotDone, and Poll pauses
// fetching every topic the client consumes (PauseFetchTopics), waits until
// the brake clears, resumes them and reads each partition again from its
// first record not done. A Poll waiting for records when the brake trips
// stops waiting and pauses too: it looks at the brake every 50 ms, with a
// timer that ends with the Poll. The records the client had fetched before
// the pause stay in its buffer; a paused partition's records are not
// handed out. There is no goroutine of the Consumer's own, and nothing to
// close. With the storm action signal the brake refuses nothing, but the
// Consumer pauses all the same.
//
// # Rebalances
//
// Poll allows a rebalance only after setting the partitions it reads
// again, as kgo asks for SetOffsets. A partition revoked with records done
// but not yet committed is read again by its next owner: at-least-once,
// never a record committed past a dead letter that is not durable.
package dlqkgo
