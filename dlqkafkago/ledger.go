package dlqkafkago

import (
	"slices"
	"sync"

	"github.com/dlqkit/dlq"
	"github.com/segmentio/kafka-go"
)

// ledger keeps, for each partition, the messages fetched and not yet
// committed, in offset order, with what became of each. The commit rule
// reads it: a partition's offset moves past a message only when the
// message and every one before it is done, or dead-lettered durably.
type ledger struct {
	mu    sync.Mutex
	parts map[topicPartition]*partition
	// held lists the messages whose dead letter the DLQ refused (or may
	// have lost), in the order they were refused: Fetch offers them again.
	held []place
	// flushes counts the Flushes begun; durable is the number of the last
	// one that succeeded: a dead letter accepted while flushes was below
	// it is durable.
	flushes, durable uint64
}

type topicPartition struct {
	topic     string
	partition int
}

// place is one message: its partition and offset.
type place struct {
	tp     topicPartition
	offset int64
}

// state is what became of a fetched message.
type state uint8

const (
	fetched  state = iota // handed out: neither done nor dead-lettered yet
	held                  // its dead letter was refused: Fetch offers it again
	accepted              // its dead letter is accepted: durable after the next good Flush
	done                  // processed, or its dead letter is durable
)

type record struct {
	offset int64
	state  state
	epoch  uint64     // accepted: the Flushes begun before it was
	entry  *dlq.Entry // held or accepted: the dead letter, to offer again
}

type partition struct {
	recs      []record // offsets ascending
	committed int64    // the offset last committed: the next one to read
}

func newLedger() *ledger { return &ledger{parts: map[topicPartition]*partition{}} }

func placeOf(msg kafka.Message) place {
	return place{tp: topicPartition{msg.Topic, msg.Partition}, offset: msg.Offset}
}

// fetch records a message handed out. A message at or before one already
// recorded on its partition means the Reader went back (a rebalance
// restarts a partition at its committed offset): what was recorded from
// there on is forgotten, held dead letters included, since those messages
// come again.
func (l *ledger) fetch(msg kafka.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := placeOf(msg)
	p := l.parts[at.tp]
	if p == nil {
		p = &partition{}
		l.parts[at.tp] = p
	}
	if n := len(p.recs); n > 0 && p.recs[n-1].offset >= at.offset {
		i := p.search(at.offset)
		clear(p.recs[i:]) // the entries they hold
		p.recs = p.recs[:i]
		l.held = slices.DeleteFunc(l.held, func(h place) bool { return h.tp == at.tp && h.offset >= at.offset })
	}
	p.recs = append(p.recs, record{offset: at.offset})
}

// search returns the index of the first record at or after offset.
func (p *partition) search(offset int64) int {
	i, _ := slices.BinarySearchFunc(p.recs, offset, func(r record, o int64) int {
		switch {
		case r.offset < o:
			return -1
		case r.offset > o:
			return 1
		}
		return 0
	})
	return i
}

// find returns the record of the message at, or nil when it was not
// fetched through the ledger or is forgotten (committed, or gone back
// over).
func (l *ledger) find(at place) *record {
	p := l.parts[at.tp]
	if p == nil {
		return nil
	}
	i := p.search(at.offset)
	if i == len(p.recs) || p.recs[i].offset != at.offset {
		return nil
	}
	return &p.recs[i]
}

// done marks a message processed.
func (l *ledger) done(msg kafka.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := placeOf(msg)
	if r := l.find(at); r != nil {
		if r.state == held {
			l.unhold(at)
		}
		r.state, r.entry = done, nil
	}
}

// hold marks a message whose dead letter the DLQ refused. It reports
// false when the message is unknown to the ledger.
func (l *ledger) hold(msg kafka.Message, e *dlq.Entry) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := placeOf(msg)
	r := l.find(at)
	if r == nil {
		return false
	}
	if r.state != held {
		l.held = append(l.held, at)
	}
	r.state, r.entry = held, e
	return true
}

// accept marks a message whose dead letter the DLQ accepted: durable once
// a Flush begun after this call succeeds.
func (l *ledger) accept(at place, e *dlq.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.find(at); r != nil {
		if r.state == held {
			l.unhold(at)
		}
		r.state, r.entry, r.epoch = accepted, e, l.flushes
	}
}

func (l *ledger) unhold(at place) {
	if i := slices.Index(l.held, at); i >= 0 {
		l.held = slices.Delete(l.held, i, i+1)
	}
}

// nextHeld returns the oldest held dead letter, or false when none is held.
func (l *ledger) nextHeld() (place, dlq.Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.held) > 0 {
		at := l.held[0]
		if r := l.find(at); r != nil && r.state == held {
			return at, *r.entry, true
		}
		l.held = l.held[1:]
	}
	return place{}, dlq.Entry{}, false
}

// heldCount is how many dead letters are held.
func (l *ledger) heldCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// beginFlush numbers a Flush about to begin: what was accepted before is
// durable once it succeeds (flushed).
func (l *ledger) beginFlush() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushes++
	return l.flushes
}

// flushed records that Flush number n succeeded.
func (l *ledger) flushed(n uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.durable = max(l.durable, n)
}

// lost holds again every accepted dead letter not yet known durable: the
// DLQ lost an entry, and which one is not known. Fetch offers them again;
// the DLQ may then hold some twice.
func (l *ledger) lost() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for tp, p := range l.parts {
		for i := range p.recs {
			if r := &p.recs[i]; r.state == accepted && r.epoch >= l.durable {
				r.state = held
				l.held = append(l.held, place{tp, r.offset})
			}
		}
	}
}

// ready returns, for each partition that can move, the last message of
// its longest prefix of messages done or durably dead-lettered: the
// message to commit (kafka-go commits the offset after it).
func (l *ledger) ready() []kafka.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []kafka.Message
	for tp, p := range l.parts {
		i := 0
		for ; i < len(p.recs); i++ {
			r := &p.recs[i]
			if r.state == accepted && r.epoch < l.durable {
				r.state, r.entry = done, nil
			}
			if r.state != done {
				break
			}
		}
		if i > 0 && p.recs[i-1].offset+1 > p.committed {
			out = append(out, kafka.Message{Topic: tp.topic, Partition: tp.partition, Offset: p.recs[i-1].offset})
		}
	}
	return out
}

// awaitsFlush reports whether some partition's first message not done is
// an accepted dead letter: a Flush would let its offset move.
func (l *ledger) awaitsFlush() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.parts {
		for i := range p.recs {
			if r := &p.recs[i]; r.state != done {
				if r.state == accepted && r.epoch >= l.durable {
					return true
				}
				break
			}
		}
	}
	return false
}

// committed forgets what the commit of msgs covered.
func (l *ledger) committed(msgs []kafka.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		p := l.parts[topicPartition{m.Topic, m.Partition}]
		if p == nil || m.Offset+1 <= p.committed {
			continue
		}
		p.committed = m.Offset + 1
		i := p.search(p.committed)
		clear(p.recs[:i])
		p.recs = p.recs[i:]
	}
}
