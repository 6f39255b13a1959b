package dlq

import (
	"runtime"
	"testing"
	"time"
)

var benchEntry = Entry{
	Timestamp:   time.UnixMilli(1764200000000),
	Service:     "loader",
	Reason:      "parse_error",
	Error:       "unexpected end of JSON input",
	Attempts:    2,
	Payload:     make([]byte, 256),
	Destination: "acme.auth",
	Source:      KafkaSource("events", 1, 42),
}

// consume empties ch until stop closes, as a drain that keeps up would,
// calling gave (when set) for each entry.
func consume(ch chan Entry, gave func(), stop chan struct{}) (done chan struct{}) {
	done = make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ch:
				if gave != nil {
					gave()
				}
			case <-stop:
				return
			}
		}
	}()
	return done
}

// sendHarness is an orchestrator whose queue is emptied by a bare consumer,
// so that Send is measured against the channel alone.
func sendHarness(tb testing.TB) (*Orchestrator, func()) {
	o := newOrchestrator(Config{Service: "svc", QueueCapacity: 10000}, nil)
	stop := make(chan struct{})
	done := consume(o.queue, func() { o.giveRoom(1) }, stop) // the room a drain gives back
	return o, func() { close(stop); <-done }
}

// chanSend hands e to ch the way Send does (a non-blocking send), trying
// again while the consumer catches up, so each op is one accepted entry.
func chanSend(ch chan Entry, e Entry) {
	for {
		select {
		case ch <- e:
			return
		default:
			runtime.Gosched()
		}
	}
}

// dlqSend is chanSend through Orchestrator.Send.
func dlqSend(o *Orchestrator, e Entry) {
	for o.Send(e) == ErrQueueFull {
		runtime.Gosched()
	}
}

// BenchmarkSend/dlq against BenchmarkSend/chan: the bare buffered channel
// hand-off of the same Entry, with the same consumer, is the design's
// physical limit. Each op is one accepted entry.
func BenchmarkSend(b *testing.B) {
	b.Run("chan", func(b *testing.B) {
		ch := make(chan Entry, 10000)
		stop := make(chan struct{})
		done := consume(ch, nil, stop)
		b.ReportAllocs()
		for b.Loop() {
			chanSend(ch, benchEntry)
		}
		close(stop)
		<-done
	})
	b.Run("dlq", func(b *testing.B) {
		o, stop := sendHarness(b)
		b.ReportAllocs()
		for b.Loop() {
			dlqSend(o, benchEntry)
		}
		stop()
	})
}

func BenchmarkSendParallel(b *testing.B) {
	b.Run("chan", func(b *testing.B) {
		ch := make(chan Entry, 10000)
		stop := make(chan struct{})
		done := consume(ch, nil, stop)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				chanSend(ch, benchEntry)
			}
		})
		close(stop)
		<-done
	})
	b.Run("dlq", func(b *testing.B) {
		o, stop := sendHarness(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				dlqSend(o, benchEntry)
			}
		})
		stop()
	})
}

// BenchmarkSendEmptyQueue isolates the sender's own cost: each op is 1000
// sends into an empty queue with room for them, emptied with the timer
// stopped, so no consumer competes for the channel.
func BenchmarkSendEmptyQueue(b *testing.B) {
	const perOp = 1000
	b.Run("chan", func(b *testing.B) {
		ch := make(chan Entry, perOp)
		b.ReportAllocs()
		for b.Loop() {
			for range perOp {
				select {
				case ch <- benchEntry:
				default:
					b.Fatal("full")
				}
			}
			b.StopTimer()
			for range perOp {
				<-ch
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perOp), "ns/send")
	})
	b.Run("dlq", func(b *testing.B) {
		o := newOrchestrator(Config{Service: "svc", QueueCapacity: perOp}, nil)
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
			o.giveRoom(perOp) // as the drain does once the entries are written
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perOp), "ns/send")
	})
}
