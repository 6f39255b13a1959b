package dlq

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// landing is an HTTP handler that counts the requests reaching it: POSTs
// with a body, and the others (a POST turned into a GET by a redirect).
type landing struct {
	mu       sync.Mutex
	posts    int
	bodiless int
}

func (l *landing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Method == http.MethodPost && len(body) > 0 {
		l.posts++
	} else {
		l.bodiless++
	}
}

func (l *landing) counts() (posts, bodiless int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.posts, l.bodiless
}

// redirector answers every request to /ingest with code and Location loc,
// and hands any other path to next.
func redirector(code int, loc string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ingest" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(code)
	})
}

// TestReplayHTTPRedirects: a 301, 302 or 303 would make the client resend
// the POST as a GET without its body (0 of 20 delivered, yet every answer
// a 2xx); a 307 or 308 to another host would hand the payloads to someone
// else. Each is refused, the entries counted failed, with an error naming
// the Location. A 307 or 308 to the same scheme, host and port is
// followed, body and all. (From https to http: cmd/dlq's
// TestReplayHTTPRedirects, which can trust a test certificate.)
func TestReplayHTTPRedirects(t *testing.T) {
	const n = 20
	src := writeNumbered(t, t.TempDir(), n)
	foreign := &landing{}
	foreignSrv := httptest.NewServer(foreign)
	defer foreignSrv.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			here := &landing{}
			srv := httptest.NewServer(redirector(code, "/landed", here))
			defer srv.Close()
			res, err := Replay(t.Context(), src, srv.URL+"/ingest", ReplayOptions{})
			require.ErrorIs(t, err, ErrTargetFailed)
			assert.ErrorContains(t, err, fmt.Sprintf("dlq: replay stopped: 0 sent, %d failed", n))
			assert.ErrorContains(t, err, fmt.Sprintf(`redirect to "%s/landed" refused: a %d would turn the POST into a GET`, srv.URL, code))
			assert.Equal(t, ReplayResult{Read: n, Failed: n}, res)
			posts, bodiless := here.counts()
			assert.Zero(t, posts+bodiless, "nothing followed the redirect")
		})
	}
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(code, " to the same origin is followed"), func(t *testing.T) {
			here := &landing{}
			srv := httptest.NewServer(redirector(code, "/landed", here))
			defer srv.Close()
			res, err := Replay(t.Context(), src, srv.URL+"/ingest", ReplayOptions{})
			require.NoError(t, err)
			assert.Equal(t, uint64(n), res.Sent)
			posts, bodiless := here.counts()
			assert.Equal(t, n, posts, "each POST arrived with its body")
			assert.Zero(t, bodiless)
		})
		t.Run(fmt.Sprint(code, " to another host is refused"), func(t *testing.T) {
			srv := httptest.NewServer(redirector(code, foreignSrv.URL+"/stolen", nil))
			defer srv.Close()
			_, err := Replay(t.Context(), src, srv.URL+"/ingest", ReplayOptions{})
			require.ErrorIs(t, err, ErrTargetFailed)
			assert.ErrorContains(t, err, fmt.Sprintf("dlq: replay stopped: 0 sent, %d failed", n))
			assert.ErrorContains(t, err, fmt.Sprintf(`redirect to "%s/stolen" refused: replay follows a redirect only to the same scheme, host and port`, foreignSrv.URL))
			posts, bodiless := foreign.counts()
			assert.Zero(t, posts+bodiless, "nothing reached the other host")
		})
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

func TestReplayHTTPOrigin(t *testing.T) {
	for _, test := range []struct{ a, b string }{
		{"https://Example.com/x", "https://example.com:443/y"},
		{"http://example.com/x", "HTTP://example.com:80/y"},
		{"http://[::1]:8080/x", "http://[::1]:8080/y"},
	} {
		a, b := mustURL(t, test.a), mustURL(t, test.b)
		assert.Equal(t, origin(a), origin(b), "%s and %s are one origin", test.a, test.b)
	}
	for _, test := range []struct{ a, b string }{
		{"https://example.com/x", "http://example.com/x"},
		{"https://example.com:8443/x", "http://example.com:8443/x"},
		{"http://example.com/x", "http://example.com:8080/x"},
		{"http://example.com/x", "http://example.org/x"},
	} {
		a, b := mustURL(t, test.a), mustURL(t, test.b)
		assert.NotEqual(t, origin(a), origin(b), "%s and %s are two origins", test.a, test.b)
	}
}

// TestReplayHTTPHeaders: the headers an HTTP request can carry travel; a
// name that is not a token, or a value with control characters, is left
// out rather than failing the entry.
func TestReplayHTTPHeaders(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte("p"), ID: "id-1", Headers: []Header{
		{Key: "trace", Value: []byte("t-1")}, {Key: "tab", Value: []byte("a\tb")}, {Key: "x:y", Value: []byte("v")},
		{Key: "", Value: []byte("v")}, {Key: "nl", Value: []byte("a\nb")}, {Key: "del", Value: []byte{0x7f}}, {Key: "é", Value: []byte("v")},
	}}))
	closeOK(t, o)
	s := newReplaySink(t, nil)
	_, err = Replay(t.Context(), dir, s.url, ReplayOptions{})
	require.NoError(t, err)
	require.Len(t, s.heads, 1)
	h := s.heads[0]
	assert.Equal(t, "t-1", h.Get("trace"))
	assert.Equal(t, "a\tb", h.Get("tab"))
	for _, key := range []string{"x:y", "nl", "del", "é"} {
		assert.Empty(t, h.Values(key), key)
	}
}

// TestReplayHTTPReport: each answer that asked to slow down (429, 503) or
// told of a server in trouble (another 5xx) reaches the send's report, with
// the requests made and the time spent waiting to retry, apart from the
// time spent waiting for answers; the automatic rate halves on them.
func TestReplayHTTPReport(t *testing.T) {
	src := writeNumbered(t, t.TempDir(), 3)
	var (
		mu    sync.Mutex
		calls int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		call := calls
		mu.Unlock()
		switch call {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusBadGateway) // no Retry-After: the backoff
		case 4:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	var reps []sendReport
	var rates []float64
	res, err := Replay(t.Context(), src, srv.URL, ReplayOptions{RateAuto: true, MaxRate: 100_000,
		onBatch:    func(_ []replayMsg, rep *sendReport, _ error) { reps = append(reps, *rep) },
		OnProgress: func(p ReplayProgress) { rates = append(rates, p.Rate) }})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), res.Sent)
	require.Len(t, reps, 1, "one batch")
	rep := reps[0]
	assert.Equal(t, 2, rep.throttled, "the 429 and the 503")
	assert.Equal(t, 1, rep.failing, "the 502")
	assert.Equal(t, 6, rep.calls, "three entries, three retries")
	assert.GreaterOrEqual(t, rep.slept, 200*time.Millisecond, "the backoff after the 502 (doubled after the 429)")
	assert.Less(t, rep.slept, rep.took)
	assert.Less(t, rep.latency(), rep.took-rep.slept, "the latency is one request's")
	require.NotEmpty(t, rates)
	assert.Equal(t, 1000.0, rates[0], "the start: MaxRate/100")
	assert.Equal(t, 500.0, rates[len(rates)-1], "the end: halved once (a second at most)")
}

// TestReplayHTTPRetryAfter: the wait before a retry is what Retry-After
// asks, in seconds or as an HTTP date, at most replayHTTPMaxBackoff and
// never negative; a value it cannot read leaves the backoff. Before, a
// number of seconds was multiplied into a Duration before its bound: 9300000000
// overflowed to a negative wait (the retry at once), 18446744074 to
// 0.29 s; a date was ignored.
func TestReplayHTTPRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)
	const backoff = 200 * time.Millisecond
	for header, want := range map[string]time.Duration{
		"":                              backoff,
		"3":                             3 * time.Second,
		"0":                             0,
		"1000000000":                    replayHTTPMaxBackoff,
		"9300000000":                    replayHTTPMaxBackoff,
		"18446744074":                   replayHTTPMaxBackoff,
		"99999999999999999999":          backoff, // not an int64: unreadable
		"-5":                            backoff,
		"garbage":                       backoff,
		"Sat, 05 Dec 2026 21:00:04 GMT": 4 * time.Second,
		"Sat, 05 Dec 2026 20:00:00 GMT": 0, // past
		"Wed, 21 Oct 2099 07:28:00 GMT": replayHTTPMaxBackoff,
	} {
		assert.Equal(t, want, replayRetryAfter(header, backoff, now), "Retry-After %q", header)
	}
}
