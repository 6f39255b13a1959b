module github.com/dlqkit/dlq/dlqkgo

go 1.26.0

require (
	github.com/dlqkit/dlq v0.1.0
	github.com/twmb/franz-go v1.22.3
	github.com/twmb/franz-go/pkg/kmsg v1.15.1
)
