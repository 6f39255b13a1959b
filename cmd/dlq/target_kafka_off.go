//go:build !(dlq_kafka || dlq_all)

package main

import (
	"context"
	"errors"
	"net/url"
)

// kafkaTarget is the stub of the Kafka target in builds without its tag.
type kafkaTarget struct{}

var errKafkaNotBuilt = errors.New("a kafka:// target needs build tag dlq_kafka or dlq_all (go install -tags dlq_all github.com/dlqkit/dlq/cmd/dlq@latest)")

func newKafkaTarget(*url.URL) (*kafkaTarget, error) { return nil, errKafkaNotBuilt }

func (*kafkaTarget) send(context.Context, []replayMsg) (int, error) { return 0, errKafkaNotBuilt }

func (*kafkaTarget) close() error { return nil }

// sourceError returns err: without the tag no Kafka source is read.
func sourceError(err error, _ string) error { return err }
