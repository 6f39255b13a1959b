package dlqkgo

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The ledger is the Consumer's account of each partition: how far its
// records are done, which dead letters may not be durable yet, and where it
// must be read again. It is the whole of the commit rule (KAFKA-10658: an
// offset moves past a failed record only once its dead letter is durable),
// kept apart from the client so that every step of it is plain arithmetic.

// pos is a place in a partition: an offset and the leader epoch of the
// record there. A commit at pos commits every record before it.
type pos struct {
	offset int64
	epoch  int32
}

// nowhere is an unset pos.
var nowhere = pos{offset: -1, epoch: -1}

func (p pos) set() bool { return p.offset >= 0 }

// earlier returns whichever of p and q comes first; an unset one never does.
func earlier(p, q pos) pos {
	if !p.set() || q.set() && q.offset < p.offset {
		return q
	}
	return p
}

// at is the pos of rec itself: committing it commits the records before rec.
func at(rec *kgo.Record) pos { return pos{offset: rec.Offset, epoch: rec.LeaderEpoch} }

// after is the pos just after rec: committing it commits rec too.
func after(rec *kgo.Record) pos { return pos{offset: rec.Offset + 1, epoch: rec.LeaderEpoch} }

// topicPartition names a partition.
type topicPartition struct {
	topic     string
	partition int32
}

// partition is the ledger of one partition.
type partition struct {
	// next is just after the last record done (processed, or dead-lettered
	// and accepted by the DLQ): as far as a commit may go.
	next pos
	// unflushed is the first record dead-lettered since the snapshot of
	// the last Commit whose Flush succeeded (or since the start): its dead
	// letter may not be durable, so without a Flush a commit stops there.
	unflushed pos
	// flushing is, while a Commit runs, the unflushed of its snapshot: the
	// first record whose dead letter its Flush must make durable.
	flushing pos
	// rewind is the first record that is not done: its dead letter was
	// refused (storm brake, queue, shutdown) or lost. Records at or after
	// it are skipped, not done, and not committed; the next Poll reads the
	// partition again from there.
	rewind pos
	// committed is the offset last committed.
	committed int64
	// polled is just after the last record Poll returned: a record at or
	// after it was not handed out by this Consumer, and changes nothing.
	polled int64
}

// ledger holds every partition the Consumer has seen a record of. Its
// methods are safe from any goroutine.
type ledger struct {
	mu    sync.Mutex
	parts map[topicPartition]*partition
}

func newLedger() *ledger { return &ledger{parts: map[topicPartition]*partition{}} }

// get returns rec's partition, new if unseen. l.mu must be held.
func (l *ledger) get(rec *kgo.Record) *partition {
	key := topicPartition{rec.Topic, rec.Partition}
	p := l.parts[key]
	if p == nil {
		p = &partition{next: nowhere, unflushed: nowhere, flushing: nowhere, rewind: nowhere, committed: -1}
		l.parts[key] = p
	}
	return p
}

// poll records what Poll returned: its records were handed out.
func (l *ledger) poll(fs kgo.Fetches) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		for _, rec := range fp.Records {
			if p := l.get(rec); rec.Offset >= p.polled {
				p.polled = rec.Offset + 1
			}
		}
	})
}

// handedOut reports whether rec may be a record Poll returned: its
// partition was polled up to it. A record of another client, or one
// ahead of what was polled, is not.
func (l *ledger) handedOut(rec *kgo.Record) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.parts[topicPartition{rec.Topic, rec.Partition}]
	return p != nil && rec.Offset < p.polled
}

// skipped reports whether rec is at or after its partition's rewind: it
// will be read again, so it must be neither processed nor committed now.
func (l *ledger) skipped(rec *kgo.Record) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.parts[topicPartition{rec.Topic, rec.Partition}]
	return p != nil && p.rewind.set() && rec.Offset >= p.rewind.offset
}

// done records rec as processed, or dead-lettered when deadLetter is set.
// A record skipped, or behind what is done already (read again after a
// rewind or a rebalance), changes nothing.
func (l *ledger) done(rec *kgo.Record, deadLetter bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.get(rec)
	if p.rewind.set() && rec.Offset >= p.rewind.offset || rec.Offset < p.next.offset {
		return
	}
	p.next = after(rec)
	if deadLetter && !p.unflushed.set() {
		p.unflushed = at(rec)
	}
}

// refused records that rec's dead letter was not accepted: its partition
// must be read again from rec.
func (l *ledger) refused(rec *kgo.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.get(rec)
	p.rewind = earlier(p.rewind, at(rec))
}

// snapshot begins a commit: what is done now, and which dead letters the
// Flush about to be called must make durable. Commits are serialized by
// the caller.
func (l *ledger) snapshot() map[topicPartition]pos {
	l.mu.Lock()
	defer l.mu.Unlock()
	snap := make(map[topicPartition]pos, len(l.parts))
	for key, p := range l.parts {
		snap[key] = p.next
		p.flushing, p.unflushed = p.unflushed, nowhere
	}
	return snap
}

// settle ends a commit whose Flush returned (flushed: nil). It returns the
// offsets that may be committed now, above those committed already:
//   - flushed: every dead letter of the snapshot is durable, so
//     everything done at the snapshot;
//   - not flushed: everything done at the snapshot up to the first record
//     whose dead letter may not be durable; those dead letters stay
//     unflushed for the next commit;
//   - lost (dead letters were lost since the last look): the same, and the
//     partition is read again from that record, so that its failures are
//     dead-lettered again.
func (l *ledger) settle(snap map[topicPartition]pos, flushed, lost bool) map[string]map[int32]kgo.EpochOffset {
	l.mu.Lock()
	defer l.mu.Unlock()
	var commit map[string]map[int32]kgo.EpochOffset
	for key, next := range snap {
		p := l.parts[key]
		to := next
		switch {
		case lost:
			if first := earlier(p.flushing, p.unflushed); first.set() {
				to = earlier(to, first)
				p.rewind = earlier(p.rewind, first)
				p.next = earlier(p.next, first)
			}
			p.unflushed = nowhere
		case !flushed:
			to = earlier(to, p.flushing)
			p.unflushed = earlier(p.flushing, p.unflushed)
		}
		p.flushing = nowhere
		if !to.set() || to.offset <= p.committed {
			continue
		}
		if commit == nil {
			commit = map[string]map[int32]kgo.EpochOffset{}
		}
		if commit[key.topic] == nil {
			commit[key.topic] = map[int32]kgo.EpochOffset{}
		}
		commit[key.topic][key.partition] = kgo.EpochOffset{Epoch: to.epoch, Offset: to.offset}
	}
	return commit
}

// committed records offsets as committed.
func (l *ledger) committed(offsets map[string]map[int32]kgo.EpochOffset) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for topic, partitions := range offsets {
		for partition, eo := range partitions {
			if p := l.parts[topicPartition{topic, partition}]; p != nil && eo.Offset > p.committed {
				p.committed = eo.Offset
			}
		}
	}
}

// rewinds returns where each partition must be read again from, and
// forgets it: the caller sets the client's offsets there before it polls.
func (l *ledger) rewinds() map[string]map[int32]kgo.EpochOffset {
	l.mu.Lock()
	defer l.mu.Unlock()
	var set map[string]map[int32]kgo.EpochOffset
	for key, p := range l.parts {
		if !p.rewind.set() {
			continue
		}
		if set == nil {
			set = map[string]map[int32]kgo.EpochOffset{}
		}
		if set[key.topic] == nil {
			set[key.topic] = map[int32]kgo.EpochOffset{}
		}
		set[key.topic][key.partition] = kgo.EpochOffset{Epoch: p.rewind.epoch, Offset: p.rewind.offset}
		p.rewind = nowhere
	}
	return set
}
