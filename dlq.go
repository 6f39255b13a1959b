package dlq

import (
	"context"
	"sync/atomic"
)

// DefaultConfig returns a Config for service with every default filled in:
// the values New uses for the fields left zero. The hooks are left nil:
// Clock and Logger are set when New reads the Config (Logger to
// slog.Default() as it is then), and the Config stays what a config file
// holds, so that it round-trips through ParseConfig.
func DefaultConfig(service string) Config {
	cfg := Config{Service: service}.withDefaults()
	cfg.Clock, cfg.Logger = nil, nil
	return cfg
}

// defaultOrchestrator is the process-wide orchestrator behind the package
// functions, like slog's default logger.
var defaultOrchestrator atomic.Pointer[Orchestrator]

// SetDefault makes o the orchestrator behind the package-level Send and
// Flush. Passing nil unsets it. SetDefault does not close the previous one.
func SetDefault(o *Orchestrator) { defaultOrchestrator.Store(o) }

// Default returns the orchestrator set with SetDefault, or nil.
func Default() *Orchestrator { return defaultOrchestrator.Load() }

// Send hands e to the default orchestrator; see Orchestrator.Send. Without
// one it returns ErrNotConfigured.
func Send(e Entry) error {
	o := defaultOrchestrator.Load()
	if o == nil {
		return ErrNotConfigured
	}
	return o.Send(e)
}

// Flush flushes the default orchestrator; see Orchestrator.Flush. Without
// one it returns ErrNotConfigured.
func Flush(ctx context.Context) error {
	o := defaultOrchestrator.Load()
	if o == nil {
		return ErrNotConfigured
	}
	return o.Flush(ctx)
}

// Ok counts one message processed without a dead letter on the default
// Orchestrator (see Orchestrator.Ok); without one it does nothing.
func Ok() {
	if o := defaultOrchestrator.Load(); o != nil {
		o.Ok()
	}
}
