package minio_test

import (
	"context"
	"os"
	"testing"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/minio"
	"github.com/ssegate/ssegate/store/storetest"
	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Main(m)) }

func newStore(t testing.TB) *minio.Store {
	t.Helper()
	srv := miniotest.Shared(t)
	s, err := minio.New(context.Background(), minio.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunWith(t, func(t *testing.T) store.Store { return newStore(t) }, storetest.Limits{ObjectsHidePrefixes: true})
}
