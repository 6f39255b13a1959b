package dlq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dlqkit/dlq/internal/clock"
)

// The HTTP target's retries and timeouts.
const (
	replayHTTPAttempts   = 5
	replayHTTPTimeout    = 30 * time.Second
	replayHTTPMaxBackoff = 10 * time.Second
)

// replayHTTP POSTs each payload alone, its original headers as HTTP
// headers, retrying 429 and 5xx answers (honouring Retry-After). It follows
// a redirect only where the POST stays a POST with its body (307, 308) to
// the same scheme, host and port; any other redirect fails the entry. It
// is built in every build: it needs the standard library only.
type replayHTTP struct {
	url       string
	transport *http.Transport
	client    *http.Client
}

func newReplayHTTP(u *url.URL) *replayHTTP {
	// A transport of its own, whose connections close with the replay.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &replayHTTP{url: u.String(), transport: transport,
		client: &http.Client{Transport: transport, Timeout: replayHTTPTimeout, CheckRedirect: keepPOST}}
}

// keepPOST lets the client follow a 307 or 308 to the origin of the first
// request. Any other redirect comes back to post as the answer, which
// refuses it: a 301, 302 or 303 would turn the POST into a GET without its
// body (nothing delivered, yet a 2xx at the end), and another host or
// scheme (https to http among them) would receive payloads and headers
// meant for the target.
func keepPOST(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	code := req.Response.StatusCode
	if code != http.StatusTemporaryRedirect && code != http.StatusPermanentRedirect || origin(req.URL) != origin(via[0].URL) {
		return http.ErrUseLastResponse
	}
	return nil
}

// origin is u's scheme, host and port (the scheme's default when absent).
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// redirectRefused explains a redirect that post does not follow.
func redirectRefused(resp *http.Response) string {
	where := "(no Location)"
	if loc, err := resp.Location(); err == nil {
		where = strconv.Quote(loc.Redacted())
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
		return fmt.Sprintf("redirect to %s refused: a %d would turn the POST into a GET without its body", where, resp.StatusCode)
	}
	return fmt.Sprintf("redirect to %s refused: replay follows a redirect only to the same scheme, host and port", where)
}

func (h *replayHTTP) send(ctx context.Context, msgs []replayMsg, rep *sendReport) (int, error) {
	for i := range msgs {
		if err := h.post(ctx, &msgs[i], rep); err != nil {
			return i, err
		}
		if rep.confirmed != nil {
			if err := rep.confirmed(i + 1); err != nil { // not recorded: send no more
				return i + 1, err
			}
		}
	}
	return len(msgs), nil
}

func (h *replayHTTP) post(ctx context.Context, m *replayMsg, rep *sendReport) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(m.entry.Payload))
		if err != nil {
			return fmt.Errorf("http target: %w", err)
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		for _, hd := range m.headers {
			if validHeader(hd) {
				req.Header.Add(hd.Key, string(hd.Value))
			}
		}
		rep.calls++
		resp, err := h.client.Do(req)
		if err != nil {
			return fmt.Errorf("http target: entry %s: %w", m.entry.ID, withoutURL(err))
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return nil
		case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "":
			return fmt.Errorf("http target: entry %s: %s: %s", m.entry.ID, resp.Status, redirectRefused(resp))
		case !retry || attempt == replayHTTPAttempts:
			return fmt.Errorf("http target: entry %s: %s", m.entry.ID, resp.Status)
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			rep.throttled++
		} else {
			rep.failing++
		}
		wait := replayRetryAfter(resp.Header.Get("Retry-After"), backoff, time.Now())
		rep.slept += wait
		if !clock.Sleep(ctx, wait) {
			return ctx.Err()
		}
		backoff = min(2*backoff, replayHTTPMaxBackoff)
	}
}

// replayRetryAfter is how long to wait before a retry: what the Retry-After
// header asks (seconds, or an HTTP date), else backoff; at most
// replayHTTPMaxBackoff, never negative. Seconds are bounded before they
// become a Duration, which a large number would overflow (the HTTP
// backend's retryAfter, built with its tag only, reads it the same way).
func replayRetryAfter(header string, backoff time.Duration, now time.Time) time.Duration {
	wait := backoff
	if s, err := strconv.ParseInt(header, 10, 64); err == nil && s >= 0 {
		wait = time.Duration(min(s, int64(replayHTTPMaxBackoff/time.Second))) * time.Second
	} else if at, err := http.ParseTime(header); err == nil {
		wait = max(at.Sub(now), 0)
	}
	return min(wait, replayHTTPMaxBackoff)
}

// close closes the idle connections; none is in use once the replay sent.
func (h *replayHTTP) close() { h.transport.CloseIdleConnections() }

// validHeader reports whether h can travel as an HTTP header: a token name
// and a value without control characters. Others are left out.
func validHeader(h Header) bool {
	if h.Key == "" {
		return false
	}
	for i := 0; i < len(h.Key); i++ {
		c := h.Key[i]
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	for _, c := range h.Value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// withoutURL drops the URL from a client error, keeping its operation
// ("Post"): the URL may hold a secret.
func withoutURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
