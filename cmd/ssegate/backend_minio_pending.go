//go:build !ssegate_minio

package main

import (
	"context"
	"errors"

	"github.com/ssegate/ssegate/store"
)

// openMinIO is a placeholder until store/minio lands; backend_minio.go
// (build tag ssegate_minio) replaces it.
func openMinIO(ctx context.Context, b Backend, region string) (store.Store, error) {
	return nil, errors.New("this build has no minio backend yet")
}
