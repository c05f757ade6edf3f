//go:build !ssegate_wire

package main

import (
	"context"
	"errors"
	"log/slog"
)

// wire is a placeholder until gateway, kms and store land; wire.go (build
// tag ssegate_wire) replaces it.
func wire(ctx context.Context, cfg Config, creds rootCredentials, logger *slog.Logger) (app, error) {
	return app{}, errors.New("this build has no gateway yet")
}
