// Package netconn tracks the connections a dialer makes, so that they can all be cut or closed at once.
package netconn

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DialFunc dials a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// ErrClosed is the error of a dial through a Tracker after CloseAll.
var ErrClosed = errors.New("dial refused: the connections were closed")

// Tracker tracks the open connections of the dialers it wraps. Its zero
// value is ready to use.
type Tracker struct {
	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool         // no new connection after CloseAll
	dials  atomic.Int64 // dial attempts, failed ones included
}

// Dialer wraps dial so that the connections it makes can be cut or closed
// through t. A connection leaves t when it is closed.
func (t *Tracker) Dialer(dial DialFunc) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		t.dials.Add(1)
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.closed {
			_ = nc.Close()
			return nil, ErrClosed
		}
		if t.conns == nil {
			t.conns = map[*conn]struct{}{}
		}
		c := &conn{Conn: nc, owner: t}
		t.conns[c] = struct{}{}
		return c, nil
	}
}

// Dials returns how many dials the wrapped dialers attempted, failed ones
// included.
func (t *Tracker) Dials() int64 { return t.dials.Load() }

// Cut makes every open connection fail its pending and future reads and
// writes, whatever deadline its user sets afterwards. The connections stay
// open, and tracked, until their user closes them; those dialed later are
// not cut.
func (t *Tracker) Cut() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.cut.Store(true)
		_ = c.Conn.SetDeadline(past)
	}
}

// CloseAll closes every open connection, which fails their pending reads
// and writes, and refuses new ones: a later dial returns ErrClosed.
func (t *Tracker) CloseAll() {
	t.mu.Lock()
	conns := t.conns
	t.conns, t.closed = nil, true
	t.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
}

// past is a deadline that has passed.
var past = time.Unix(1, 0)

// conn is a tracked connection: it leaves its owner when closed, and once
// cut its deadlines stay in the past.
type conn struct {
	net.Conn
	owner *Tracker
	cut   atomic.Bool
}

func (c *conn) SetDeadline(t time.Time) error      { return c.set(c.Conn.SetDeadline, t) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.set(c.Conn.SetReadDeadline, t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.set(c.Conn.SetWriteDeadline, t) }

// set applies t, or the past once the connection is cut: a cut that races
// with the user setting its own deadline still wins.
func (c *conn) set(apply func(time.Time) error, t time.Time) error {
	err := apply(t)
	if c.cut.Load() {
		return apply(past)
	}
	return err
}

func (c *conn) Close() error {
	c.owner.mu.Lock()
	delete(c.owner.conns, c)
	c.owner.mu.Unlock()
	return c.Conn.Close()
}

// Failed returns a connection that stands for a dial that failed with err:
// its reads and writes fail with err, its Close and deadlines do nothing.
// For a client that must be handed a connection rather than the error.
func Failed(err error) net.Conn { return failed{err} }

type failed struct{ err error }

func (f failed) Read([]byte) (int, error)         { return 0, f.err }
func (f failed) Write([]byte) (int, error)        { return 0, f.err }
func (f failed) Close() error                     { return nil }
func (f failed) LocalAddr() net.Addr              { return noAddr{} }
func (f failed) RemoteAddr() net.Addr             { return noAddr{} }
func (f failed) SetDeadline(time.Time) error      { return nil }
func (f failed) SetReadDeadline(time.Time) error  { return nil }
func (f failed) SetWriteDeadline(time.Time) error { return nil }

// noAddr is the address of a Failed connection: none.
type noAddr struct{}

func (noAddr) Network() string { return "none" }
func (noAddr) String() string  { return "none" }
