//go:build !(dlq_redis || dlq_all)

package dlq

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReaderRedisNeedsItsTag(t *testing.T) {
	_, err := OpenReader("redis://127.0.0.1:6379/0?stream=dlq", ReaderOptions{})
	assert.ErrorIs(t, err, ErrSourceNotBuilt)
	assert.ErrorContains(t, err, "needs build tag dlq_redis or dlq_all")
}
