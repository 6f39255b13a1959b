package dlq

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/dlqkit/dlq/internal/redact"
)

// auditRecord is the line a replay run appends to its audit file: who ran
// it, when, what it replayed where, with which options, and how it ended.
type auditRecord struct {
	User    string       `json:"user"`
	Host    string       `json:"host"`
	Start   time.Time    `json:"start"`
	End     time.Time    `json:"end"`
	Source  string       `json:"source"` // a path made absolute, a URL with its password hidden
	Target  string       `json:"target"` // its password hidden
	Filter  replayFilter `json:"filter"`
	Options auditOptions `json:"options"`
	Counts  auditCounts  `json:"counts"`
	// Outcome is "done", "interrupted" (the context ended: a signal),
	// "target failed", "aborted: came back" (the canary stopped it) or
	// "stopped" (the source, the checkpoint or the ledger failed); Error
	// says why when it is not done.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// auditOptions are the options of a run besides its selection.
type auditOptions struct {
	DryRun      bool    `json:"dry_run,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
	MaxReplays  int     `json:"max_replays,omitempty"`
	OnlyPending bool    `json:"only_pending,omitempty"`
	Checkpoint  string  `json:"checkpoint,omitempty"`
	Ledger      string  `json:"ledger,omitempty"`
	RateAuto    bool    `json:"rate_auto,omitempty"`
	MaxRate     float64 `json:"max_rate,omitempty"`
	Canary      int     `json:"canary,omitempty"`
	CanaryWait  string  `json:"canary_wait,omitempty"`
	AbortAbove  float64 `json:"abort_above,omitempty"`
	Watch       string  `json:"watch,omitempty"`
}

// auditCounts is the ReplayResult of a run.
type auditCounts struct {
	Read            uint64 `json:"read"`
	Sent            uint64 `json:"sent"`
	Refused         uint64 `json:"refused"`
	Failed          uint64 `json:"failed"`
	Skipped         uint64 `json:"skipped"`
	AlreadyReplayed uint64 `json:"already_replayed"`
	Unreadable      uint64 `json:"unreadable"`
	Resumed         bool   `json:"resumed,omitempty"`
	From            string `json:"from,omitempty"`
	Before          uint64 `json:"before,omitempty"`
	CameBack        uint64 `json:"came_back,omitempty"`
}

// auditPath is the audit file of a replay: Audit, else one next to its
// ledger, named as the ledger with .audit for .ledger; "" for none.
func (o *ReplayOptions) auditPath() string {
	if o.Audit != "" {
		return o.Audit
	}
	if l := o.ledgerPath(); l != "" {
		return strings.TrimSuffix(l, ".ledger") + ".audit"
	}
	return ""
}

// openRecords opens the run's ledger and begins its audit record: what
// the run is, who runs it, and when it began.
func (run *replayRun) openRecords(src, target string, sel replayFilter) error {
	var err error
	if run.ledger, err = openLedger(run.opts, target); err != nil {
		return err
	}
	o := run.opts
	path := o.auditPath()
	if path == "" {
		return nil
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil && p != "" {
			return a
		}
		return p
	}
	run.audit = &auditRecord{
		User: whoRuns(), Start: time.Now().UTC(),
		Source: checkpointSource(src), Target: redact.URL(target), Filter: sel,
		Options: auditOptions{DryRun: o.DryRun, Rate: o.Rate, MaxReplays: o.MaxReplays, OnlyPending: o.OnlyPending,
			Checkpoint: abs(o.Checkpoint), Ledger: abs(o.ledgerPath()),
			RateAuto: o.RateAuto, MaxRate: o.MaxRate, Canary: o.Canary, Watch: redact.URL(o.Watch)},
	}
	if o.Canary > 0 {
		run.audit.Options.CanaryWait = cmp.Or(o.CanaryWait, defaultCanaryWait).String()
		run.audit.Options.AbortAbove = cmp.Or(o.AbortAbove, defaultAbortAbove)
	}
	run.audit.Host, _ = os.Hostname()
	run.auditPath = path
	return nil
}

// closeRecords closes the ledger (the final checkpoint write fsynced it)
// and appends the run's audit record, with its counts and how it ended
// (stopErr, else saveErr). It returns saveErr, else what failed.
func (run *replayRun) closeRecords(res ReplayResult, stopErr, saveErr error) error {
	err := run.ledger.close()
	if run.audit != nil {
		ended := stopErr
		if ended == nil {
			ended = cmpErr(saveErr, err)
		}
		err = cmpErr(err, run.appendAudit(res, ended))
	}
	return cmpErr(saveErr, err)
}

// cmpErr returns the first of its errors that is not nil.
func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// appendAudit appends the run's record in one write, fsynced.
func (run *replayRun) appendAudit(res ReplayResult, ended error) error {
	rec := run.audit
	rec.End = time.Now().UTC()
	rec.Counts = auditCounts{Read: res.Read, Sent: res.Sent, Refused: res.Refused, Failed: res.Failed,
		Skipped: res.Skipped, AlreadyReplayed: res.AlreadyReplayed, Unreadable: res.Unreadable,
		Resumed: res.Resumed, From: res.From, Before: res.Before, CameBack: res.CameBack}
	switch {
	case ended == nil:
		rec.Outcome = "done"
	case errors.Is(ended, context.Canceled) || errors.Is(ended, context.DeadlineExceeded):
		rec.Outcome = "interrupted"
	case errors.Is(ended, ErrTargetFailed):
		rec.Outcome = "target failed"
	case errors.Is(ended, ErrReplayAborted):
		rec.Outcome = "aborted: came back"
	default:
		rec.Outcome = "stopped"
	}
	if ended != nil {
		rec.Error = ended.Error()
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("dlq: audit: %w", err)
	}
	f, err := os.OpenFile(run.auditPath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("dlq: audit: %w", err)
	}
	line = append(line, '\n')
	if st, serr := f.Stat(); serr == nil && st.Size() > 0 { // a record torn by a kill ends on a line of its own
		last := make([]byte, 1)
		if _, rerr := f.ReadAt(last, st.Size()-1); rerr != nil || last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dlq: audit %s: %w", run.auditPath, err)
	}
	return nil
}

// whoRuns names the user running the replay: the account's name, else
// $USER, else the uid.
func whoRuns() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return fmt.Sprint(os.Getuid())
}
