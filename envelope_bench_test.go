package dlq

import (
	"encoding/json"
	"testing"
)

func BenchmarkEnvelope(b *testing.B) {
	e := benchEntry
	e.ID = "019ac3f2-5a10-7c3e-9a4b-2f6d8e1c0b7a"
	b.Run("AppendEnvelope", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendEnvelope(buf[:0], &e)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		type source struct {
			Topic     string `json:"topic,omitempty"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
		}
		type envelope struct {
			Timestamp   int64   `json:"timestamp"`
			Service     string  `json:"service"`
			Reason      string  `json:"reason"`
			Attempts    int     `json:"attempts"`
			Payload     []byte  `json:"payload"`
			Destination string  `json:"destination,omitempty"`
			Source      *source `json:"source,omitempty"`
			Error       string  `json:"error,omitempty"`
			ID          string  `json:"id,omitempty"`
		}
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(envelope{
				Timestamp: e.Timestamp.UnixMilli(), Service: e.Service, Reason: e.Reason, Attempts: e.Attempts,
				Payload: e.Payload, Destination: e.Destination, Error: e.Error, ID: e.ID,
				Source: &source{e.Source.Topic, e.Source.Partition, e.Source.Offset},
			})
		}
	})
}
