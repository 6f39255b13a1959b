package dlq

import (
	"testing"
)

// stormBenchConfigs are the brakes Send and Ok are measured with, side by
// side in one run: none, the ratio alone (refuse: a load of tripped), and
// the ratio with a run length (also a load of where the run began) that
// no benchmark reaches.
var stormBenchConfigs = []struct {
	name  string
	storm StormConfig
}{
	{"off", StormConfig{}},
	{"on", StormConfig{MaxRatio: 0.5}},
	{"on+consecutive", StormConfig{MaxRatio: 0.5, MaxConsecutive: 1 << 40}},
}

// BenchmarkOk: Ok's cost, by brake, on one goroutine and on all.
func BenchmarkOk(b *testing.B) {
	for _, c := range stormBenchConfigs {
		b.Run(c.name, func(b *testing.B) {
			o := newOrchestrator(Config{Service: "svc", Storm: c.storm}, nil)
			b.ReportAllocs()
			for b.Loop() {
				o.Ok()
			}
		})
	}
	for _, c := range stormBenchConfigs {
		b.Run("parallel/"+c.name, func(b *testing.B) {
			o := newOrchestrator(Config{Service: "svc", Storm: c.storm}, nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					o.Ok()
				}
			})
		})
	}
}

// BenchmarkStormSend is BenchmarkSendEmptyQueue (the sender's own cost,
// 1000 sends an op into an empty queue) by brake, in one run: the brake
// must cost Send at most a few ns.
func BenchmarkStormSend(b *testing.B) {
	const perOp = 1000
	for _, c := range stormBenchConfigs {
		b.Run(c.name, func(b *testing.B) {
			o := newOrchestrator(Config{Service: "svc", QueueCapacity: perOp, Storm: c.storm}, nil)
			b.ReportAllocs()
			for b.Loop() {
				for range perOp {
					if err := o.Send(benchEntry); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				for range perOp {
					<-o.queue
				}
				o.giveRoom(perOp)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perOp), "ns/send")
		})
	}
}

// BenchmarkStormSendParallel is BenchmarkSendParallel/dlq by brake, in one
// run: every goroutine sends, and a bare consumer empties the queue.
func BenchmarkStormSendParallel(b *testing.B) {
	for _, c := range stormBenchConfigs {
		b.Run(c.name, func(b *testing.B) {
			o, stop := stormSendHarness(b, c.storm)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					dlqSend(o, benchEntry)
				}
			})
			stop()
		})
	}
}
