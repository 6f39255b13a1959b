// Package netconn tracks the connections a dialer makes, so that they can be cut.
package netconn

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// go-redis bounds a read by the context's deadline but does not notice a
// context cancelled without one, nor a deadline that comes after the read
// began. So that a write ends when the Flush or Close waiting for it gives
// up, the backend dials through CuttableConns, and cuts every connection
// when the write's context ends: a blocked read or write returns at once,
// and go-redis drops the connection as broken.

// CuttableConns tracks the backend's open connections.
type CuttableConns struct {
	mu     sync.Mutex
	conns  map[*cuttableConn]struct{}
	Dialed atomic.Int64 // dial attempts, failed ones included
}

// Dialer wraps dial so that the connections it makes can be cut.
func (cs *CuttableConns) Dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		cs.Dialed.Add(1)
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return failedDial{err}, nil
		}
		c := &cuttableConn{Conn: conn, owner: cs}
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.conns == nil {
			cs.conns = map[*cuttableConn]struct{}{}
		}
		cs.conns[c] = struct{}{}
		return c, nil
	}
}

// Cut makes every open connection fail its pending and future reads and
// writes.
func (cs *CuttableConns) Cut() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.conns {
		c.cut.Store(true)
		_ = c.Conn.SetDeadline(past)
	}
}

// past is a deadline that has passed.
var past = time.Unix(1, 0)

// cuttableConn is a connection whose deadlines cut overrides for good.
type cuttableConn struct {
	net.Conn
	owner *CuttableConns
	cut   atomic.Bool
}

func (c *cuttableConn) SetDeadline(t time.Time) error      { return c.set(c.Conn.SetDeadline, t) }
func (c *cuttableConn) SetReadDeadline(t time.Time) error  { return c.set(c.Conn.SetReadDeadline, t) }
func (c *cuttableConn) SetWriteDeadline(t time.Time) error { return c.set(c.Conn.SetWriteDeadline, t) }

// set applies t, or the past once the connection is cut: a cut that races
// with go-redis setting its own deadline still wins.
func (c *cuttableConn) set(apply func(time.Time) error, t time.Time) error {
	err := apply(t)
	if c.cut.Load() {
		return apply(past)
	}
	return err
}

func (c *cuttableConn) Close() error {
	c.owner.mu.Lock()
	delete(c.owner.conns, c)
	c.owner.mu.Unlock()
	return c.Conn.Close()
}

// failedDial stands for a dial that failed. Told of the failure itself,
// go-redis (with a pool of one) would stop dialing and probe in a goroutine
// of its own, which sleeps a second between dials and outlives Close.
// Handed this connection instead, it fails its first command with the
// dial's error and drops the connection, and the next batch dials again.
type failedDial struct{ err error }

func (f failedDial) Read([]byte) (int, error)         { return 0, f.err }
func (f failedDial) Write([]byte) (int, error)        { return 0, f.err }
func (f failedDial) Close() error                     { return nil }
func (f failedDial) LocalAddr() net.Addr              { return failedAddr{} }
func (f failedDial) RemoteAddr() net.Addr             { return failedAddr{} }
func (f failedDial) SetDeadline(time.Time) error      { return nil }
func (f failedDial) SetReadDeadline(time.Time) error  { return nil }
func (f failedDial) SetWriteDeadline(time.Time) error { return nil }

// failedAddr is the address of a failedDial: none.
type failedAddr struct{}

func (failedAddr) Network() string { return "none" }
func (failedAddr) String() string  { return "none" }
