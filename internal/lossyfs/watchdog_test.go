package lossyfs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDeadlineAbortsAHungWrite(t *testing.T) {
	const timeout = "8s"
	h := startHelper(t, "deadline", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if !h.wait(ctx) {
		t.Fatalf("the helper outlived its -timeout (%s) by minutes with a write hung on its own mount: nothing aborted the connection\n%s", timeout, h.out.String())
	}
	out := h.out.String()
	assert.Contains(t, out, "lossyfs: the test's deadline (-timeout", "the watchdog says what it did")
	assert.Regexp(t, `the hung write returned: \S`, out)
	assert.NotContains(t, out, "the hung write returned: <nil>")
}
