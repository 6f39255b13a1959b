// Package chaos is dlq's reliability suite: the orchestrator with all four
// backends at once while faults are injected on a seeded random schedule,
// then every backend read back and every accepted entry accounted for. Its
// tests need -tags dlq_all. Each mode runs under faults for 3 s by default,
// which keeps the README's test command within 3 minutes on 2 cores; CI=true
// or -chaos.long makes it 10 s; the soak is the same code with a longer
// duration:
//
//	go test -tags dlq_all -race ./internal/chaos                 # short schedule
//	go test -tags dlq_all -race ./internal/chaos -chaos.long     # CI length
//	go test -tags dlq_all ./internal/chaos -run ChaosCascade -chaos.duration 10m -chaos.rate 200 -chaos.seed 42 -v -timeout 60m
package chaos
