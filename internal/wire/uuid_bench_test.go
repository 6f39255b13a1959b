package wire

import (
	"testing"
	"time"
)

// BenchmarkIDSource makes one UUIDv7 text per op; a slab is allocated
// every idsPerSlab ids.
func BenchmarkIDSource(b *testing.B) {
	s := NewIDSource()
	now := time.UnixMilli(1764200000123)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Next(now)
	}
}
