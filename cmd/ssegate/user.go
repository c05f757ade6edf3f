package main

import (
	"context"
	"fmt"
	"io"
)

// userCommand runs `ssegate user <sub> ...` (being written).
func userCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return fmt.Errorf("%w: ssegate user is not implemented yet", ErrConfig)
}
