//go:build dlq_http || dlq_all

package dlq

import "testing"

func TestHTTPHangingServerDeadlinesHold(t *testing.T) {
	hanging := startHanging(t)
	requireDeadlinesHold(t, Config{Service: "svc", File: FileConfig{Disabled: true},
		HTTP: HTTPConfig{URL: "http://" + hanging.addr(), TimeoutMS: 60_000}}, hanging)
}
