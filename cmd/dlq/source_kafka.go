//go:build dlq_kafka || dlq_all

package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/segmentio/kafka-go"
)

// sourceError explains a failure to read src: a Kafka topic that does not
// exist is named with its broker.
func sourceError(err error, src string) error {
	u, perr := url.Parse(src)
	if !errors.Is(err, kafka.UnknownTopicOrPartition) || perr != nil || u.Scheme != "kafka" {
		return err
	}
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "9092")
	}
	return &explained{msg: fmt.Sprintf("topic %s does not exist on %s", strings.TrimPrefix(u.Path, "/"), host), err: err}
}
