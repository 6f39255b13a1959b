package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v3"
)

func replayCommand() *cli.Command {
	return &cli.Command{Name: "replay", Usage: "send the original messages to TARGET", ArgsUsage: "SRC --to TARGET",
		Action: func(context.Context, *cli.Command) error { return errors.New("not yet") }}
}
