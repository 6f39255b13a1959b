package benchmarks

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(cleanup{m})
}

// cleanup removes what the run built (the dlq binary the reading
// benchmarks exec) once the tests and benchmarks are done.
type cleanup struct{ m *testing.M }

func (c cleanup) Run() int {
	defer removeBuilt()
	return c.m.Run()
}
