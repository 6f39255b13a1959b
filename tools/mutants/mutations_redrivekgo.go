package main

// redriveKgoMutations break the loop the replay canary watches over Kafka
// (issue 23 with the franz-go adapter, dlqkgo/redrive_test.go): a
// replayed message must reach the topic with dlq.replay_of, and the
// adapter must copy it into the dead letter it makes again, or what comes
// back is not seen and the redrive sends everything into a consumer that
// still fails.
var redriveKgoMutations = []mutation{
	{name: "redrive over Kafka: dlqkgo.Entry does not copy the record's headers", file: "dlqkgo/entry.go",
		old: "\tif len(rec.Headers) > 0 {\n", new: "\tif false {\n",
		tags: "dlq_all", pkg: "./dlqkgo", run: "^TestRedriveStillFailingStopsAfterTheCanary$"},
	{name: "redrive over Kafka: the Kafka target sends no headers", file: "replay_target_kafka.go",
		old: "\t\tfor _, h := range msgs[i].headers {\n", new: "\t\tfor _, h := range msgs[i].headers[:0] {\n",
		tags: "dlq_all", pkg: "./dlqkgo", run: "^TestRedrive"},
}
