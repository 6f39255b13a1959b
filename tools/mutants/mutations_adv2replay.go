package main

// adv2ReplayMutations break what the redrive's second adversary (session
// 24) found broken and fixed: a Redis target whose AUTH the server refused
// counted every XADD confirmed (go-redis leaves them without an error and
// without a reply), so the replay reported them sent and the ledger
// recorded them.
var adv2ReplayMutations = []mutation{
	{name: "replay Redis: an XADD without a reply counted as added", file: "replay_target_redis.go",
		old: "\t\tif c.Val() == \"\" {\n", new: "\t\tif false && c.Val() == \"\" {\n",
		tags: "dlq_redis", run: "^TestReplayToRedis$"},
	{name: "replay Kafka: a user in the target dropped without a word", file: "replay_target.go",
		old: "\t\tif u.User != nil {\n", new: "\t\tif false && u.User != nil {\n",
		run: "^TestReplayOptionsRefused$"},
}
