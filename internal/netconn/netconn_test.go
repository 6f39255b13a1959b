package netconn

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// liveness bounds how long a read that a cut or a close must end may take
// to return: long enough that a loaded machine cannot fail the test.
const liveness = 10 * time.Second

// server is a loopback TCP listener that hands over the server side of
// each connection it accepts.
type server struct {
	ln       net.Listener
	accepted chan net.Conn
	wg       sync.WaitGroup
}

func listen(t *testing.T) *server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &server{ln: ln, accepted: make(chan net.Conn, 16)}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted <- c
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
		close(s.accepted)
		for c := range s.accepted {
			_ = c.Close()
		}
	})
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

// next returns the server side of the next connection accepted, closed
// when the test ends.
func (s *server) next(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-s.accepted:
		t.Cleanup(func() { _ = c.Close() })
		return c
	case <-time.After(liveness):
		require.FailNow(t, "no connection accepted")
		return nil
	}
}

// dial dials s through tr.
func dial(t *testing.T, tr *Tracker, s *server) net.Conn {
	t.Helper()
	c, err := tr.Dialer((&net.Dialer{}).DialContext)(context.Background(), "tcp", s.addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// blockedRead starts a read of c that blocks until something ends it, and
// returns where its error arrives.
func blockedRead(c net.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // most likely blocked by now; ended either way
	return done
}

// readEnded waits for the read of blockedRead to return and gives its
// error.
func readEnded(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(liveness):
		require.FailNow(t, "the read did not return")
		return nil
	}
}

// tracked returns how many connections tr tracks.
func tracked(tr *Tracker) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.conns)
}

func TestDialerTracksEachConnectionUntilItIsClosed(t *testing.T) {
	s := listen(t)
	var tr Tracker
	a, b := dial(t, &tr, s), dial(t, &tr, s)
	s.next(t)
	s.next(t)
	assert.Equal(t, 2, tracked(&tr))
	require.NoError(t, a.Close())
	assert.Equal(t, 1, tracked(&tr))
	require.NoError(t, b.Close())
	assert.Zero(t, tracked(&tr))

	// A failed dial returns its error, tracks nothing, and counts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close()) // refused from now on
	_, err = tr.Dialer((&net.Dialer{}).DialContext)(context.Background(), "tcp", ln.Addr().String())
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrClosed)
	assert.Zero(t, tracked(&tr))
	assert.Equal(t, int64(3), tr.Dials(), "every attempt counts, the failed one too")
}

func TestCutEndsABlockedReadForGood(t *testing.T) {
	s := listen(t)
	var tr Tracker
	c := dial(t, &tr, s)
	peer := s.next(t)
	done := blockedRead(c)

	tr.Cut()
	err := readEnded(t, done)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)

	// A deadline set after the cut does not undo it, nor does data
	// waiting to be read.
	_, err = peer.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(time.Hour)))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Hour)))
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(time.Hour)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	_, err = c.Write([]byte("y"))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Equal(t, 1, tracked(&tr), "a cut connection stays open until its user closes it")

	// A connection dialed after the cut is not cut.
	fresh := dial(t, &tr, s)
	freshPeer := s.next(t)
	_, err = freshPeer.Write([]byte("z"))
	require.NoError(t, err)
	require.NoError(t, fresh.SetReadDeadline(time.Now().Add(liveness)))
	buf := make([]byte, 1)
	_, err = io.ReadFull(fresh, buf)
	require.NoError(t, err)
	assert.Equal(t, "z", string(buf))
}

func TestCutWinsOverADeadlineSetAtTheSameTime(t *testing.T) {
	s := listen(t)
	var tr Tracker
	c := dial(t, &tr, s)
	s.next(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopUser := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopUser()
	wg.Go(func() { // the user, setting its own deadline over and over
		for {
			select {
			case <-stop:
				return
			default:
				_ = c.SetReadDeadline(time.Now().Add(time.Hour))
			}
		}
	})
	done := blockedRead(c)
	tr.Cut()
	stopUser()
	require.ErrorIs(t, readEnded(t, done), os.ErrDeadlineExceeded)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Hour))) // surely after the cut
	require.ErrorIs(t, readEnded(t, blockedRead(c)), os.ErrDeadlineExceeded, "still cut")
}

func TestCloseAllEndsABlockedReadAndRefusesNewDials(t *testing.T) {
	s := listen(t)
	var tr Tracker
	a, b := dial(t, &tr, s), dial(t, &tr, s)
	peers := []net.Conn{s.next(t), s.next(t)}
	done := blockedRead(a)

	tr.CloseAll()
	err := readEnded(t, done)
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = b.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
	for _, p := range peers { // the server sees both connections end
		require.NoError(t, p.SetReadDeadline(time.Now().Add(liveness)))
		_, err := p.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF)
	}
	assert.Zero(t, tracked(&tr))
	require.ErrorIs(t, a.Close(), net.ErrClosed, "its user's close, after, tells it was closed")
	assert.Zero(t, tracked(&tr))

	// A dial after CloseAll is refused, and what it connected is closed.
	_, err = tr.Dialer((&net.Dialer{}).DialContext)(context.Background(), "tcp", s.addr())
	require.ErrorIs(t, err, ErrClosed)
	late := s.next(t)
	require.NoError(t, late.SetReadDeadline(time.Now().Add(liveness)))
	_, err = late.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	assert.Zero(t, tracked(&tr))
	assert.Equal(t, int64(3), tr.Dials())
}

func TestFailedFailsEveryReadAndWrite(t *testing.T) {
	dialErr := errors.New("connection refused")
	c := Failed(dialErr)
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, dialErr)
	_, err = c.Write([]byte("x"))
	assert.ErrorIs(t, err, dialErr)
	assert.NoError(t, c.SetDeadline(time.Now()))
	assert.NoError(t, c.SetReadDeadline(time.Now()))
	assert.NoError(t, c.SetWriteDeadline(time.Now()))
	assert.NoError(t, c.Close())
	assert.Equal(t, "none", c.LocalAddr().String())
	assert.Equal(t, "none", c.RemoteAddr().Network())
}
