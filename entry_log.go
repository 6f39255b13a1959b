package dlq

import (
	"log/slog"
)

// LogValue implements slog.LogValuer: an Entry logs as a group of its
// identifying fields and the payload's size. The payload itself is never
// logged, nor are Metadata values (only their count): either may hold
// personal data or secrets.
func (e Entry) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 11)
	str := func(key, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(key, v))
		}
	}
	str("id", e.ID)
	if !e.Timestamp.IsZero() {
		attrs = append(attrs, slog.Time("timestamp", e.Timestamp))
	}
	str("service", e.Service)
	str("reason", e.Reason)
	str("error", e.Error)
	if e.Attempts != 0 {
		attrs = append(attrs, slog.Int("attempts", e.Attempts))
	}
	str("destination", e.Destination)
	str("topic", e.Source.Topic)
	if e.Source.HasPartition {
		attrs = append(attrs, slog.Int("partition", int(e.Source.Partition)))
	}
	if e.Source.HasOffset {
		attrs = append(attrs, slog.Int64("offset", e.Source.Offset))
	}
	attrs = append(attrs, slog.Int("payload_bytes", len(e.Payload)))
	if len(e.Metadata) > 0 {
		attrs = append(attrs, slog.Int("metadata_keys", len(e.Metadata)))
	}
	return slog.GroupValue(attrs...)
}
