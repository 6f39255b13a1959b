package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v3"
)

func copyCommand() *cli.Command {
	return &cli.Command{Name: "copy", Usage: "copy envelopes into another backend", ArgsUsage: "SRC --to TARGET",
		Action: func(context.Context, *cli.Command) error { return errors.New("not yet") }}
}
