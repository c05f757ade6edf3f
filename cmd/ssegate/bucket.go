package main

import (
	"context"
	"fmt"
	"io"
)

// bucketCommand runs `ssegate bucket <sub> ...` (being written).
func bucketCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return fmt.Errorf("%w: ssegate bucket is not implemented yet", ErrConfig)
}
