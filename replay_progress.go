package dlq

import (
	"sync"
	"time"
)

// progressReporter calls ReplayOptions.OnProgress: once when the replay
// begins, every ProgressInterval from a goroutine of its own, and once
// when it ends. The send loop updates what it reports as it goes. A nil
// *progressReporter (no OnProgress) does nothing.
type progressReporter struct {
	fn     func(ReplayProgress)
	reader *Reader
	stopc  chan struct{}
	done   chan struct{}

	mu  sync.Mutex
	now ReplayProgress // the loop's counts and position; the reader's are added when reported
}

// startProgress makes the first call to opts.OnProgress and starts the
// calls that follow, or returns nil when there is no OnProgress.
func startProgress(opts *ReplayOptions, run *replayRun) *progressReporter {
	if opts.OnProgress == nil {
		return nil
	}
	p := &progressReporter{fn: opts.OnProgress, reader: run.reader, stopc: make(chan struct{}), done: make(chan struct{})}
	p.update(run, run.from)
	p.fn(p.snapshot())
	go p.run(opts.progressInterval())
	return p
}

func (p *progressReporter) run(every time.Duration) {
	defer close(p.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-p.stopc:
			return
		case <-tick.C:
			p.fn(p.snapshot())
		}
	}
}

// update records the run's counts and the position of the entry it
// handled last.
func (p *progressReporter) update(run *replayRun, pos string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.now.Sent, p.now.Refused, p.now.Failed = run.sent, run.refused, run.failed
	p.now.Resumed, p.now.From, p.now.Before = run.from != "", run.from, run.base
	p.now.Position, p.now.Rate = pos, run.limiter.current()
	p.mu.Unlock()
}

// snapshot is what the replay did so far.
func (p *progressReporter) snapshot() ReplayProgress {
	p.mu.Lock()
	now := p.now
	p.mu.Unlock()
	st := p.reader.Stats()
	now.Read, now.Skipped, now.Unreadable = st.Read, st.Read-min(st.Matched, st.Read), st.Unreadable
	return now
}

// stop ends the periodic calls and makes the last one, with the result.
func (p *progressReporter) stop(res ReplayResult) {
	if p == nil {
		return
	}
	close(p.stopc)
	<-p.done
	p.mu.Lock()
	last := p.now
	p.mu.Unlock()
	last.ReplayResult = res
	p.fn(last)
}
