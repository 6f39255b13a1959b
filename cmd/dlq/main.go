// Command dlq reads a dead-letter queue written by github.com/dlqkit/dlq
// back: it counts and groups its entries (inspect), lists or follows them
// (tail), shows one whole (show), sends the original messages back once the
// bug is fixed (replay) and copies envelopes from one backend into another
// (copy).
//
// Install it with every source and target built in:
//
//	go install -tags dlq_all github.com/dlqkit/dlq/cmd/dlq@latest
//
// Without the tag it reads and writes files only, and a kafka:// or redis://
// source or target is refused with an error naming the tag.
//
// A source is a path (an NDJSON file, or a service folder with its rotated
// and gzipped files), kafka://HOST:PORT/TOPIC, or
// redis://HOST:PORT/DB?stream=NAME.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v3"
)

func main() {
	// A read holds little at a time (the Reader bounds what it decodes
	// ahead) and allocates a lot: collecting at 3x the live heap rather
	// than 2x costs some 35 MiB and saves 5% of the CPU. GOGC still rules.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(os.Stdout, os.Stderr).Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "dlq:", printableLines(err.Error()))
		os.Exit(1)
	}
}

// newApp builds the command tree writing to stdout and stderr; tests run it
// in process.
func newApp(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:                      "dlq",
		Usage:                     "read a dead-letter queue back: inspect, tail, show, replay, copy",
		Writer:                    stdout,
		ErrWriter:                 stderr,
		EnableShellCompletion:     true,
		DisableSliceFlagSeparator: true, // --reason a --reason b; a comma is a character
		HideVersion:               true,
		ExitErrHandler:            func(context.Context, *cli.Command, error) {}, // main reports and exits
		Commands: []*cli.Command{
			inspectCommand(),
			tailCommand(),
			showCommand(),
			replayCommand(),
			copyCommand(),
		},
	}
}

// errUsage marks a mistake in the command line.
var errUsage = errors.New("usage")

// oneSource returns the command's single SRC argument.
func oneSource(cmd *cli.Command) (string, error) {
	if cmd.Args().Len() != 1 {
		return "", fmt.Errorf("%w: dlq %s takes one SRC (a path, kafka://HOST:PORT/TOPIC or redis://HOST:PORT/DB?stream=NAME)", errUsage, cmd.Name)
	}
	return cmd.Args().First(), nil
}
