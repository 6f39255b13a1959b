//go:build dlq_kafka || dlq_all

package dlq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

const (
	kafkaReadMaxBytes = 16 << 20 // one fetch; bounds the memory a read holds
	kafkaFollowWait   = 500 * time.Millisecond
	kafkaDialTimeout  = 10 * time.Second
)

// kafkaSource reads every partition of a topic with kafka-go, one
// partition after the other, each from its start (or from Filter.Since,
// by the broker's time index) to the high-water mark it had when reading
// began. Following, it visits the partitions in turn for new messages.
type kafkaSource struct {
	addr  string
	topic string
}

func newKafkaSource(u *url.URL) (*kafkaSource, error) {
	topic := strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || topic == "" {
		return nil, fmt.Errorf("dlq: source %s is not kafka://HOST:PORT/TOPIC", u.Redacted())
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		u.Host = net.JoinHostPort(u.Host, "9092")
	}
	return &kafkaSource{addr: u.Host, topic: topic}, nil
}

// kafkaPartition is one partition's reading range.
type kafkaPartition struct {
	id   int
	next int64 // offset to read next
	end  int64 // high-water mark at the start
	conn *kafka.Conn
}

func (s *kafkaSource) each(ctx context.Context, r *Reader, emit func(Record) bool) error {
	parts, err := s.partitions(ctx, r)
	if err != nil {
		return err
	}
	defer func() {
		for _, p := range parts {
			if p.conn != nil {
				_ = p.conn.Close()
			}
		}
	}()
	for _, p := range parts {
		for p.next < p.end {
			more, err := s.readBatch(ctx, r, p, p.end, 0, emit)
			if err != nil || !more {
				return err
			}
		}
	}
	if r.opts.Follow {
		r.caughtUp()
	}
	for r.opts.Follow {
		for _, p := range parts {
			more, err := s.readBatch(ctx, r, p, -1, kafkaFollowWait, emit)
			if err != nil || !more {
				return err
			}
		}
	}
	return nil
}

// partitions lists the topic's partitions with their ranges, taken now.
func (s *kafkaSource) partitions(ctx context.Context, r *Reader) ([]*kafkaPartition, error) {
	dialCtx, cancel := context.WithTimeout(ctx, kafkaDialTimeout)
	defer cancel()
	conn, err := kafka.DialContext(dialCtx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("dlq: source kafka %s: %w", s.addr, err)
	}
	infos, err := conn.ReadPartitions(s.topic)
	_ = conn.Close()
	if err != nil {
		return nil, fmt.Errorf("dlq: source kafka topic %s: %w", s.topic, err)
	}
	resumeP, resumeOff, err := parseKafkaPosition(r.opts.After)
	if err != nil {
		return nil, err
	}
	var parts []*kafkaPartition
	for _, info := range infos {
		p := &kafkaPartition{id: info.ID}
		if p.conn, err = kafka.DialLeader(dialCtx, "tcp", s.addr, s.topic, info.ID); err != nil {
			closeKafkaParts(parts)
			return nil, fmt.Errorf("dlq: source kafka %s/%d: %w", s.topic, info.ID, err)
		}
		parts = append(parts, p)
		first, last, err := p.conn.ReadOffsets()
		if err != nil {
			closeKafkaParts(parts)
			return nil, fmt.Errorf("dlq: source kafka %s/%d: %w", s.topic, info.ID, err)
		}
		p.next, p.end = first, last
		if since := r.opts.Filter.Since; !since.IsZero() {
			if at, err := p.conn.ReadOffset(since); err == nil && at > p.next {
				p.next = min(at, last)
			}
		}
		switch {
		case resumeP < 0:
		case info.ID < resumeP:
			p.next = p.end // read before the checkpoint
		case info.ID == resumeP:
			p.next = max(p.next, min(resumeOff+1, p.end))
		}
	}
	// Partitions in id order, so that a position orders them.
	for i := 1; i < len(parts); i++ {
		for j := i; j > 0 && parts[j].id < parts[j-1].id; j-- {
			parts[j], parts[j-1] = parts[j-1], parts[j]
		}
	}
	return parts, nil
}

func closeKafkaParts(parts []*kafkaPartition) {
	for _, p := range parts {
		_ = p.conn.Close()
	}
}

func parseKafkaPosition(after string) (int, int64, error) {
	if after == "" {
		return -1, 0, nil
	}
	ps, offs, ok := strings.Cut(after, ":")
	p, err1 := strconv.Atoi(ps)
	off, err2 := strconv.ParseInt(offs, 10, 64)
	if !ok || err1 != nil || err2 != nil || p < 0 {
		return 0, 0, fmt.Errorf("dlq: resume position %q is not PARTITION:OFFSET", after)
	}
	return p, off, nil
}

// readBatch reads one fetch from p, up to end (or without end when end is
// negative), waiting at most wait for new messages when following. It
// returns false when emit asked to stop.
func (s *kafkaSource) readBatch(ctx context.Context, r *Reader, p *kafkaPartition, end int64, wait time.Duration, emit func(Record) bool) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if _, err := p.conn.Seek(p.next, kafka.SeekAbsolute); err != nil {
		return false, fmt.Errorf("dlq: source kafka %s/%d: %w", s.topic, p.id, err)
	}
	deadline := time.Now().Add(kafkaDialTimeout + wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = p.conn.SetReadDeadline(deadline)
	cfg := kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: kafkaReadMaxBytes}
	if wait > 0 {
		cfg.MaxWait = wait
	}
	batch := p.conn.ReadBatchWith(cfg)
	start := p.next
	for end < 0 || p.next < end {
		m, err := batch.ReadMessage()
		if err != nil || end >= 0 && m.Offset >= end {
			break
		}
		p.next = m.Offset + 1
		if !s.decode(r, p, m, emit) {
			_ = batch.Close()
			return false, nil
		}
	}
	err := batch.Close()
	switch {
	case p.next > start:
		return true, nil
	case wait > 0 && (err == nil || isTimeout(err)):
		return true, nil // nothing new yet
	case err == nil:
		err = errors.New("no messages before the high-water mark")
	}
	return false, fmt.Errorf("dlq: source kafka %s/%d at offset %d: %w", s.topic, p.id, p.next, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, kafka.RequestTimedOut)
}

func (s *kafkaSource) decode(r *Reader, p *kafkaPartition, m kafka.Message, emit func(Record) bool) bool {
	e, err := parseLine(m.Value)
	if err != nil {
		r.unreadable()
		return true
	}
	return emit(Record{Entry: e, Position: strconv.Itoa(p.id) + ":" + strconv.FormatInt(m.Offset, 10)})
}
