//go:build !(dlq_kafka || dlq_all) && !(dlq_redis || dlq_all) && !dlq_http

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNetworkSourcesAndTargetsNameTheirTag(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	for _, args := range [][]string{
		{"inspect", "kafka://127.0.0.1:9092/x.dlq"},
		{"tail", "redis://127.0.0.1:6379/0?stream=dlq"},
		{"replay", dir, "--to", "kafka://127.0.0.1:9092/x"},
		{"replay", dir, "--to", "redis://127.0.0.1:6379/0?stream=s"},
		{"copy", dir, "--to", "kafka://127.0.0.1:9092/x"},
		{"copy", dir, "--to", "redis://127.0.0.1:6379/0?stream=s"},
		{"copy", dir, "--to", "http://127.0.0.1:9/ingest"},
	} {
		t.Run(args[0]+" "+args[len(args)-1], func(t *testing.T) {
			out, err := run(t, args...)
			assert.ErrorContains(t, err, "dlq_all")
			assert.Empty(t, out, "no summary: the command fails before it reads")
		})
	}
}
