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
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/dlqkit/dlq/internal/editdist"
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
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
}

// errorLine is how the command reports err: one "dlq: " prefix, although
// the library's errors start with one too and may be wrapped in the
// command's, made safe for a terminal.
func errorLine(err error) string {
	return "dlq: " + printableLines(strings.ReplaceAll(strings.TrimPrefix(err.Error(), "dlq: "), ": dlq: ", ": "))
}

// Help shared by the commands: the forms of SRC and TARGET, and the build
// tags each needs.
const (
	sourceHelp = "SRC is one of:\n" +
		"  PATH                              an NDJSON file (.ndjson or .ndjson.gz), a service folder with its rotated\n" +
		"                                    files, or a folder of service folders (file://PATH too); always built in\n" +
		"  kafka://HOST:PORT/TOPIC           every partition of TOPIC; needs -tags dlq_kafka or dlq_all\n" +
		"  redis://HOST:PORT/DB?stream=NAME  a Redis stream (rediss:// for TLS); needs -tags dlq_redis or dlq_all\n" +
		installHelp
	installHelp = "Build with every source and target: go install -tags dlq_all github.com/dlqkit/dlq/cmd/dlq@latest\n" +
		"(in the repository: go install -tags dlq_all ./cmd/dlq); dlq --version names the tags a binary has."
)

// newApp builds the command tree writing to stdout and stderr; tests run it
// in process.
func newApp(stdout, stderr io.Writer) *cli.Command {
	app := &cli.Command{
		Name:                      "dlq",
		Usage:                     "read a dead-letter queue back: inspect, tail, show, replay, copy",
		Description:               sourceHelp,
		Writer:                    stdout,
		ErrWriter:                 newConsole(stderr),
		EnableShellCompletion:     true,
		DisableSliceFlagSeparator: true,                                          // --reason a --reason b; a comma is a character
		HideVersion:               true,                                          // --version is ours: it names the build tags
		ExitErrHandler:            func(context.Context, *cli.Command, error) {}, // main reports and exits
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "version", Local: true, Usage: "print the version, the library's and the build tags"},
			&cli.DurationFlag{Name: "progress-after", Value: progressAfter, Hidden: true,
				Usage: "on a terminal, show the progress line after this long"},
		},
		Action: runRoot,
		Commands: []*cli.Command{
			inspectCommand(),
			tailCommand(),
			showCommand(),
			replayCommand(),
			copyCommand(),
		},
	}
	app.OnUsageError = usageError
	for _, c := range app.Commands {
		c.OnUsageError = usageError
	}
	return app
}

// runRoot runs dlq without a command: --version, or help.
func runRoot(ctx context.Context, cmd *cli.Command) error {
	switch {
	case cmd.Bool("version"):
		_, err := fmt.Fprintln(cmd.Root().Writer, versionLine(debug.ReadBuildInfo()))
		return err
	case cmd.Args().Present():
		name := cmd.Args().First()
		hint := "; see dlq --help"
		var names []string
		for _, c := range cmd.Commands {
			names = append(names, c.Name)
		}
		if near := nearest(name, names); near != "" {
			hint = fmt.Sprintf("; did you mean %s?", near)
		}
		return &parseError{fmt.Sprintf("unknown command %q%s", name, hint)}
	}
	return cli.ShowRootCommandHelp(cmd)
}

// versionLine says which dlq this is: its module version ("(devel)" when
// built from a checkout), the library's, the Go release and the build tags.
func versionLine(info *debug.BuildInfo, ok bool) string {
	version, library, tags, goVersion := "(devel)", "", "none", ""
	if ok {
		if v := info.Main.Version; v != "" {
			version = v
		}
		goVersion = info.GoVersion
		for _, dep := range info.Deps {
			if dep.Path == "github.com/dlqkit/dlq" {
				library = dep.Version
				if dep.Replace != nil && dep.Replace.Version == "" {
					library += " (local)"
				}
			}
		}
		for _, s := range info.Settings {
			if s.Key == "-tags" && s.Value != "" {
				tags = s.Value
			}
		}
	}
	line := "dlq version " + version
	if library != "" {
		line += ", library " + library
	}
	if goVersion != "" {
		line += ", " + goVersion
	}
	return line + ", build tags: " + tags
}

// errUsage marks a mistake in the command line.
var errUsage = errors.New("usage")

// A usage error the flag parser found reads "inspect: unknown flag …"
// after the "dlq: " prefix; it still matches errUsage.
type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

func (e *parseError) Is(target error) bool { return target == errUsage }

// usageError turns what the flag parser refused into one line: an unknown
// flag with the nearest known one, or the parser's own message.
func usageError(_ context.Context, cmd *cli.Command, err error, _ bool) error {
	where, prefix := "dlq", ""
	if cmd.Name != "dlq" {
		where, prefix = "dlq "+cmd.Name, cmd.Name+": "
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var known []string
		for _, f := range cmd.Flags {
			known = append(known, f.Names()...)
		}
		known = append(known, "help")
		hint := fmt.Sprintf("; see %s --help", where)
		if near := nearest(name, known); near != "" {
			hint = fmt.Sprintf("; did you mean %s?", flagName(near))
		}
		return &parseError{fmt.Sprintf("%sunknown flag %s%s", prefix, flagName(name), hint)}
	}
	return &parseError{fmt.Sprintf("%s%s (see %s --help)", prefix, strings.TrimSpace(msg), where)}
}

func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// nearest returns the name in names closest to s, when it is close enough
// to be what was meant: a prefix of it, or a few edits away.
func nearest(s string, names []string) string {
	best, bestDist := "", max(2, len(s)/3)+1
	for _, n := range names {
		if len(s) >= 3 && strings.HasPrefix(n, s) {
			return n
		}
		if d := editdist.Distance(s, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// oneSource returns the command's single SRC argument.
func oneSource(cmd *cli.Command) (string, error) {
	if cmd.Args().Len() != 1 {
		return "", fmt.Errorf("%w: dlq %s takes one SRC (a path, kafka://HOST:PORT/TOPIC or redis://HOST:PORT/DB?stream=NAME)", errUsage, cmd.Name)
	}
	return cmd.Args().First(), nil
}
