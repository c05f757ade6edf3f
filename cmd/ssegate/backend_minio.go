package main

import (
	"context"
	"fmt"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/minio"
)

func openMinIO(ctx context.Context, b Backend, region string) (store.Store, error) {
	st, err := minio.New(ctx, minio.Config{
		Endpoint: b.Endpoint, AccessKey: b.AccessKey, SecretKey: b.SecretKey, Region: region,
	})
	if err != nil {
		return nil, fmt.Errorf("minio backend %s: %w", b.Endpoint, err)
	}
	return st, nil
}
