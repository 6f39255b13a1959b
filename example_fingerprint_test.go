package dlq_test

import (
	"fmt"

	"github.com/dlqkit/dlq"
)

// ExampleFingerprint groups error texts by bug: what varies from one
// occurrence to the next (ids, addresses, quoted values, times, numbers)
// is masked, each token as one placeholder.
func ExampleFingerprint() {
	for _, text := range []string{
		"charge ch_3PqX9a2b failed after 3 attempts (request 0192f3c4-7d3e-7abc-8def-0123456789ab)",
		"charge ch_9ZzQ1b7cVw failed after 12 attempts (request 0192f3c5-1111-7abc-8def-ffffffffffff)",
		`dial tcp 10.0.0.7:5432: i/o timeout after 30s`,
		`field "email" of user_id 42 is not a string`,
		"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl expired at 2026-01-15T08:30:00Z",
	} {
		fmt.Println(dlq.Fingerprint(text))
	}
	fmt.Println("version", dlq.FingerprintVersion)
	// Output:
	// charge <id> failed after <n> attempts (request <uuid>)
	// charge <id> failed after <n> attempts (request <uuid>)
	// dial tcp <ip>: i/o timeout after <dur>
	// field <str> of user_id <n> is not a string
	// token <jwt> expired at <time>
	// version 1
}
