//go:build !(dlq_kafka || dlq_all)

package dlq

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReaderKafkaNeedsItsTag(t *testing.T) {
	_, err := OpenReader("kafka://127.0.0.1:9092/events.dlq", ReaderOptions{})
	assert.ErrorIs(t, err, ErrSourceNotBuilt)
	assert.ErrorContains(t, err, "needs build tag dlq_kafka or dlq_all")
}
