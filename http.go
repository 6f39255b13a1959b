//go:build dlq_http || dlq_all

package dlq

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dlqkit/dlq/internal/clock"
	"github.com/klauspost/compress/gzip"
)

// httpBuilt reports whether the http backend is compiled in: it needs the
// build tag dlq_http or dlq_all.
const httpBuilt = true

const (
	httpFirstBackoff = 100 * time.Millisecond
	httpMaxBackoff   = 5 * time.Second
	maxDrainedBody   = 64 << 10 // read at most this much of a response to reuse the connection
	// maxRetryAfter caps a Retry-After value, so that a huge one cannot
	// overflow time.Duration into a short wait.
	maxRetryAfter = 24 * time.Hour
)

// httpBackend POSTs batches as NDJSON bodies.
type httpBackend struct {
	client     *http.Client
	transport  *http.Transport
	url        string
	redacted   string // url without its password, for errors
	headers    http.Header
	gzip       bool
	timeout    time.Duration
	maxBody    int
	maxRetries int

	body bytes.Buffer // reused request body
	zbuf bytes.Buffer // reused gzip output
	zw   *gzip.Writer
	idx  []int  // reused: the entries of the body being built
	ids  []byte // reused: the ids an idempotency key is the digest of

	ahead      [2]httpAhead // bodies built ahead, one per encode-lane slot
	aheadPosts int          // bodies posted as built ahead (the tests look)
}

func newHTTPBackend(cfg *Config) (*httpBackend, error) {
	hc := &cfg.HTTP
	u, err := url.Parse(hc.URL)
	if err != nil {
		return nil, fmt.Errorf("http.url: %w", redactURLError(err))
	}
	tlsConfig := &tls.Config{InsecureSkipVerify: hc.TLS.InsecureSkipVerify} //nolint:gosec // only when the config asks
	if hc.TLS.CAFile != "" {
		pool, err := certPool(hc.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("http.tls.ca_file: %w", err)
		}
		tlsConfig.RootCAs = pool
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	transport.MaxIdleConnsPerHost = 4
	headers := make(http.Header, len(hc.Headers)+1)
	for k, v := range hc.Headers {
		headers.Set(k, v)
	}
	headers.Set("Content-Type", "application/x-ndjson")
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level never fails
	return &httpBackend{
		client:     &http.Client{Transport: transport, CheckRedirect: checkRedirect},
		transport:  transport,
		url:        hc.URL,
		redacted:   u.Redacted(),
		headers:    headers,
		gzip:       hc.Gzip,
		timeout:    ms(hc.TimeoutMS),
		maxBody:    hc.MaxBodyBytes,
		maxRetries: hc.MaxRetries,
		zw:         zw,
	}, nil
}

// maxRedirects is the most redirects one POST follows.
const maxRedirects = 5

// checkRedirect follows a redirect only when it keeps the POST and its body
// (307 and 308) and stays on the origin of the first request: the same
// scheme, host and port. Go's client strips only Authorization, Cookie and
// WWW-Authenticate on a redirect to another domain: the payloads and any
// other configured header (X-Api-Key) would go to the other host, and a
// redirect from https to http would send them in clear text. Any other
// redirect of a POST is answered as a failure: a 301, 302 or 303 by its
// own status (http.ErrUseLastResponse), one to another origin by an error
// naming its Location.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if req.Response != nil && req.Response.StatusCode != http.StatusTemporaryRedirect &&
		req.Response.StatusCode != http.StatusPermanentRedirect {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return &permanentError{fmt.Errorf("stopped after %d redirects", maxRedirects)}
	}
	if !sameOrigin(req.URL, via[0].URL) {
		return &permanentError{fmt.Errorf("%w: Location %s leaves %s://%s (only the same scheme, host and port are followed)",
			errRedirectRefused, req.URL.Redacted(), via[0].URL.Scheme, via[0].URL.Host)}
	}
	return nil
}

// errRedirectRefused is wrapped by the error of a redirect to another
// origin.
var errRedirectRefused = errors.New("redirect refused")

// sameOrigin reports whether a and b have the same scheme, host and port,
// a port left out being its scheme's default.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

// portOf returns u's port, or its scheme's default.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// write POSTs the batch as NDJSON bodies of at most maxBody bytes; a failed
// body fails its entries only. Entries a body already carried that failed
// in a way the receiver may have seen (5xx, 429, a timeout, a lost
// connection) are sent again as that same body, under that body's key;
// only the other entries are grouped into new bodies.
func (h *httpBackend) write(ctx context.Context, bt *batch) error {
	if a := h.aheadFor(bt); a != nil {
		return h.writeAhead(ctx, bt, a)
	}
	var firstErr error
	body := h.idx[:0] // the entries of the body being built
	defer func() { h.idx = body[:0] }()
	send := func(key string) {
		if len(body) == 0 {
			return
		}
		if err := h.post(ctx, bt, body, key, nil); err != nil && firstErr == nil {
			firstErr = err
		}
		body = body[:0]
	}
	var again map[string][]int // key -> the entries that failed under it
	var keys []string          // again's keys in batch order
	size := 0
	for i, line := range bt.lines {
		n := len(line) + 1
		if n > h.maxBody {
			bt.errs[i] = fmt.Errorf("%w: a %d-byte line exceeds http.max_body_bytes %d", ErrOversize, n, h.maxBody)
			continue
		}
		if key := bt.recs[i].resendGroup; key != "" {
			if again == nil {
				again = map[string][]int{}
			}
			if _, ok := again[key]; !ok {
				keys = append(keys, key)
			}
			again[key] = append(again[key], i)
			continue
		}
		if size+n > h.maxBody {
			send("")
			size = 0
		}
		body = append(body, i)
		size += n
	}
	send("")
	for _, key := range keys {
		body = append(body[:0], again[key]...)
		send(key)
	}
	if h.body.Cap() > maxReusedBuffer {
		h.body = bytes.Buffer{}
	}
	if h.zbuf.Cap() > maxReusedBuffer {
		h.zbuf = bytes.Buffer{}
	}
	return firstErr
}

// idempotencyKey is the key of a new body: a digest of its entries' ids.
// Entries that fail a body in a way the receiver may have seen keep that
// key as their resend group (record.resendGroup) and are sent again in
// that body under it, both by this backend's own retries and by the
// drain's: an entry that reaches the receiver twice carries the same key
// both times.
func (h *httpBackend) idempotencyKey(bt *batch, body []int) string {
	ids := h.ids[:0]
	for _, i := range body {
		ids = append(ids, bt.recs[i].entry.ID...)
		ids = append(ids, 0)
	}
	h.ids = ids
	return keyOfIDs(ids)
}

// keyOfIDs is the Idempotency-Key of a body whose entries' ids, each
// followed by a zero byte, are ids: the one digest both the write and the
// bodies built ahead use.
func keyOfIDs(ids []byte) string {
	sum := sha256.Sum256(ids)
	return hex.EncodeToString(sum[:16])
}

// gzipInto appends the gzip of src to dst with zw.
func gzipInto(zw *gzip.Writer, dst *bytes.Buffer, src []byte) error {
	zw.Reset(dst)
	if _, err := zw.Write(src); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// post sends the entries body of bt under key (a new key when empty),
// retrying 429, 503, other 5xx and connection errors up to maxRetries
// times, and records the outcome on each entry. ready, when not nil, is
// the body built ahead under its own key.
func (h *httpBackend) post(ctx context.Context, bt *batch, body []int, key string, ready *aheadBody) error {
	var err error
	if ready != nil {
		key = ready.key
		err = h.send(ctx, ready.payload, ready.encoding, key, len(body))
	} else {
		if key == "" {
			key = h.idempotencyKey(bt, body)
		}
		err = h.postBody(ctx, bt, body, key)
	}
	if len(body) > 1 && errors.Is(err, errBodyTooLarge) {
		return h.split(ctx, bt, body)
	}
	var permanent *permanentError
	for _, i := range body {
		switch {
		case err == nil:
			bt.recs[i].resendGroup = ""
		case errors.As(err, &permanent):
			// The receiver refused it: the next body may group it anew.
			bt.recs[i].resendGroup = ""
			bt.errs[i] = err
		default:
			bt.recs[i].resendGroup = key
			bt.errs[i] = err
		}
	}
	return err
}

// errBodyTooLarge is wrapped by the error of a 413 answer to a body of
// more than one entry: post splits that body.
var errBodyTooLarge = errors.New("body too large for the receiver")

// split posts the two halves of body, which the receiver refused as too
// large (413), each as a new body under its own key, and so on down to
// single entries: a receiver whose limit is below max_body_bytes (nginx's
// client_max_body_size is 1 MiB) still gets every entry that fits alone,
// and one that does not fails as oversize. The refused body was not
// stored, so its key is let go with it: each half is new content and gets
// a new key (a digest of its own ids), never the whole body's.
func (h *httpBackend) split(ctx context.Context, bt *batch, body []int) error {
	half := len(body) / 2
	err := h.post(ctx, bt, body[:half], "", nil)
	if err2 := h.post(ctx, bt, body[half:], "", nil); err == nil {
		err = err2
	}
	return err
}

// postBody builds the body and POSTs it.
func (h *httpBackend) postBody(ctx context.Context, bt *batch, body []int, key string) error {
	payload, encoding, err := h.encodedBody(bt, body)
	if err != nil {
		return &permanentError{err}
	}
	return h.send(ctx, payload, encoding, key, len(body))
}

// send POSTs the encoded body of entries entries under key, retrying as
// post says.
func (h *httpBackend) send(ctx context.Context, payload []byte, encoding, key string, entries int) error {
	backoff := httpFirstBackoff
	for attempt := 0; ; attempt++ {
		wait, err := h.attempt(ctx, payload, encoding, key, entries)
		if err == nil {
			return nil
		}
		var permanent *permanentError
		if errors.As(err, &permanent) || attempt >= h.maxRetries || ctx.Err() != nil {
			return err
		}
		if wait == 0 {
			wait = backoff
			backoff = min(2*backoff, httpMaxBackoff)
		}
		if wait > h.timeout {
			return fmt.Errorf("%w (Retry-After %s is past the %s timeout)", err, wait, h.timeout)
		}
		if !clock.Sleep(ctx, wait) {
			return errors.Join(err, ctx.Err())
		}
	}
}

// encodedBody returns the request body of the entries body of bt, one
// line each, gzipped when configured (in one Write: measured faster than a
// Write per line, which would save the copy).
func (h *httpBackend) encodedBody(bt *batch, body []int) ([]byte, string, error) {
	h.body.Reset()
	for _, i := range body {
		h.body.Write(bt.lines[i])
		h.body.WriteByte('\n')
	}
	if !h.gzip {
		return h.body.Bytes(), "", nil
	}
	h.zbuf.Reset()
	if err := gzipInto(h.zw, &h.zbuf, h.body.Bytes()); err != nil {
		return nil, "", err
	}
	return h.zbuf.Bytes(), "gzip", nil
}

// permanentError is a response that retrying will not change.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// attempt makes one request. It returns how long the server asked to wait
// before the next one (from Retry-After), or 0.
// A 413 marks the entry oversize only when it was alone in the body; with
// more, it wraps errBodyTooLarge and post splits the body.
func (h *httpBackend) attempt(ctx context.Context, body []byte, encoding, key string, entries int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return 0, &permanentError{fmt.Errorf("POST %s: %w", h.redacted, redactURLError(err))}
	}
	for k, v := range h.headers {
		req.Header[k] = v
	}
	req.Header.Set("Idempotency-Key", key)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", h.redacted, redactURLError(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedBody)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	err = fmt.Errorf("POST %s: %s", h.redacted, resp.Status)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return retryAfter(resp.Header.Get("Retry-After"), time.Now()), err
	case resp.StatusCode == http.StatusRequestEntityTooLarge && entries == 1:
		return 0, &permanentError{fmt.Errorf("%w: %w", ErrOversize, err)}
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return 0, &permanentError{fmt.Errorf("%w: %w", errBodyTooLarge, err)}
	case resp.StatusCode >= 500:
		return 0, err
	default:
		return 0, &permanentError{err}
	}
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter // any wait this long is past the timeout
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// sync returns at once: a 2xx answer already means durable.
func (h *httpBackend) sync(context.Context) error { return nil }

func (h *httpBackend) close(context.Context) error {
	h.transport.CloseIdleConnections()
	return nil
}
