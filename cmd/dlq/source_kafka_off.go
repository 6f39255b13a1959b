//go:build !(dlq_kafka || dlq_all)

package main

// sourceError returns err: without the tag no Kafka source is read.
func sourceError(err error, _ string) error { return err }
