package dlqotel_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// lumberjack starts one millRun goroutine per Logger and its Close
		// never stops it (lumberjack issues #56 and #205): the file backend
		// cannot end it. It holds no file open and does nothing until the
		// next rotation.
		goleak.IgnoreAnyFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"),
	)
}
