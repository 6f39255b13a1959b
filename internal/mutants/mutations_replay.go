package main

// replayMutations break dlq replay: its rate, dry run, checkpoint and targets (cmd/dlq).
var replayMutations = []mutation{}
