//go:build dlq_kafka || dlq_all

package dlq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// kafka-go's Writer.Close waits for every produce request in flight, each
// bounded only by the write timeout (a minute by default), and its
// Transport closes idle connections only. So that Close keeps its
// deadline, the backend dials through kafkaConns and, when Close's context
// ends first, closes every connection: a produce blocked on a broker that
// does not answer fails at once, and Writer.Close returns.

// kafkaConns tracks the connections the backend's transport dials.
type kafkaConns struct {
	mu     sync.Mutex
	conns  map[*kafkaConn]struct{}
	closed bool // no new connection after closeAll
}

var errKafkaClosed = errors.New("dlq: kafka backend closed")

// dialer wraps dial so that closeAll can close what it dials.
func (cs *kafkaConns) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.closed {
			_ = conn.Close()
			return nil, errKafkaClosed
		}
		if cs.conns == nil {
			cs.conns = map[*kafkaConn]struct{}{}
		}
		c := &kafkaConn{Conn: conn, owner: cs}
		cs.conns[c] = struct{}{}
		return c, nil
	}
}

// closeAll closes every open connection and refuses new ones.
func (cs *kafkaConns) closeAll() {
	cs.mu.Lock()
	conns := cs.conns
	cs.conns, cs.closed = nil, true
	cs.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
}

// kafkaConn is a connection that leaves kafkaConns when closed.
type kafkaConn struct {
	net.Conn
	owner *kafkaConns
}

func (c *kafkaConn) Close() error {
	c.owner.mu.Lock()
	delete(c.owner.conns, c)
	c.owner.mu.Unlock()
	return c.Conn.Close()
}

// close closes the writer, which waits for the produce requests in flight,
// and when ctx ends first closes the connections under them. It returns
// only once kafka-go's goroutines for the writer are done.
func (k *kafkaBackend) close(ctx context.Context) error {
	closed := make(chan error, 1)
	go func() { closed <- k.writer.Close() }()
	var err error
	select {
	case err = <-closed:
	case <-ctx.Done():
		k.conns.closeAll()
		if err = <-closed; err == nil {
			err = fmt.Errorf("produce requests in flight cut: %w", ctx.Err())
		}
	}
	k.conns.closeAll()
	k.transport.CloseIdleConnections()
	return err
}
