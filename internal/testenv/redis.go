package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisAddr returns the address of the shared Redis server the tests use:
// $DLQ_REDIS_ADDR, or 127.0.0.1:6379. It skips the test (fails it under
// CI=true) when nothing answers there.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("DLQ_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if err := pingRedis(addr); err != nil {
		SkipOrFail(t, fmt.Sprintf("needs a Redis server at %s (apt-get install redis-server, or set DLQ_REDIS_ADDR): %v", addr, err))
	}
	return addr
}

// pingRedis sends PING over a raw connection and expects +PONG.
func pingRedis(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	// A server that wants a password answers NOAUTH: it is up.
	if !strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// RedisServer is a private redis-server on a free loopback port, for tests
// that kill it, restart it or configure it oddly.
type RedisServer struct {
	// Addr is its host:port.
	Addr string
	args []string
	cmd  *exec.Cmd
	t    testing.TB
}

// StartRedis starts a private redis-server with extra config arguments
// (such as "--maxmemory", "1mb") and stops it when the test ends.
func StartRedis(t testing.TB, extra ...string) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		SkipOrFail(t, "needs redis-server on PATH (apt-get install redis-server)")
	}
	port := FreePort(t)
	s := &RedisServer{
		Addr: fmt.Sprintf("127.0.0.1:%d", port),
		args: append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", t.TempDir(), "--daemonize", "no"}, extra...),
		t: t,
	}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func (s *RedisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", s.args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := pingRedis(s.Addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer: %v", s.Addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *RedisServer) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port (empty: it keeps
// nothing on disk).
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
